// The libc functions of semaphores (sem/), in their own table so the
// module's bindings sit together.
import type { Pointer } from "./_types.ts";
import { native as fn, type SymbolGroup } from "./_types.ts";

/** Semaphore functions, each the raw C call. */
export interface SemCalls {
  /** `sem_t *sem_open(const char *name, int oflag, mode_t mode, unsigned value): sem_open(3).` */
  sem_open(
    name: ArrayBufferView | null,
    flags: number | bigint,
    mode: number | bigint,
    value: number | bigint,
  ): Pointer | null;
  /** `int sem_close(sem_t *sem): sem_close(3).` */
  sem_close(sem: Pointer | null): number;
  /** `int sem_unlink(const char *name): sem_unlink(3).` */
  sem_unlink(name: ArrayBufferView | null): number;
  /** `int sem_post(sem_t *sem): sem_post(3).` */
  sem_post(sem: Pointer | null): number;
  /** `int sem_wait(sem_t *sem): sem_wait(3).` */
  sem_wait(sem: Pointer | null): number;
  /** `int sem_trywait(sem_t *sem): sem_trywait(3).` */
  sem_trywait(sem: Pointer | null): number;
  /** `int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime): sem_clockwait(3).` */
  sem_clockwait(
    sem: Pointer | null,
    clock: number | bigint,
    abstime: ArrayBufferView | null,
  ): number;
  /** `int sem_getvalue(sem_t *sem, int *value): sem_getvalue(3).` */
  sem_getvalue(sem: Pointer | null, value: ArrayBufferView | null): number;
  /** `int sem_init(sem_t *sem, int pshared, unsigned value): sem_init(3).` */
  sem_init(
    sem: Pointer | null,
    pshared: number | bigint,
    value: number | bigint,
  ): number;
  /** `int sem_destroy(sem_t *sem): sem_destroy(3).` */
  sem_destroy(sem: Pointer | null): number;
}

/** Their symbol tables, with the libraries to try for each. */
export const SEM_GROUPS: readonly SymbolGroup[] = [
  // In libc.so.6 since glibc 2.34; in libpthread.so.0 before.
  [{
    sem_open: fn(["buffer", "i32", "u32", "u32"], "ptr"), // sem_t* sem_open(const char*, int oflag, mode_t, unsigned value)
    sem_close: fn(["ptr"], "i32"), // int sem_close(sem_t*)
    sem_unlink: fn(["buffer"], "i32"), // int sem_unlink(const char*)
    sem_post: fn(["ptr"], "i32"), // int sem_post(sem_t*)
    sem_wait: fn(["ptr"], "i32"), // int sem_wait(sem_t*)
    sem_trywait: fn(["ptr"], "i32"), // int sem_trywait(sem_t*)
    sem_clockwait: fn(["ptr", "i32", "buffer"], "i32"), // int sem_clockwait(sem_t*, clockid_t, const struct timespec*)
    sem_getvalue: fn(["ptr", "buffer"], "i32"), // int sem_getvalue(sem_t*, int*)
    sem_init: fn(["ptr", "i32", "u32"], "i32"), // int sem_init(sem_t*, int pshared, unsigned value)
    sem_destroy: fn(["ptr"], "i32"), // int sem_destroy(sem_t*)
  }, ["libc.so.6", "libpthread.so.0"]],
];
