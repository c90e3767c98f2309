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
  /** `int clock_gettime(clockid_t clock, struct timespec *tp): clock_gettime(2).` */
  clock_gettime(clock: number | bigint, tp: ArrayBufferView | null): number;
  /** `int semget(key_t key, int nsems, int semflg): semget(2).` */
  semget(
    key: number | bigint,
    nsems: number | bigint,
    flags: number | bigint,
  ): number;
  /** `int semop(int semid, struct sembuf *sops, size_t nsops): semop(2).` */
  semop(
    id: number | bigint,
    sops: ArrayBufferView | null,
    nsops: number | bigint,
  ): number;
  /** `int semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *timeout): semtimedop(2).` */
  semtimedop(
    id: number | bigint,
    sops: ArrayBufferView | null,
    nsops: number | bigint,
    timeout: ArrayBufferView | null,
  ): number;
  /**
   * `int semctl(int semid, int semnum, int cmd, union semun arg): semctl(2).`
   * The union (an int or a pointer) travels as one 64-bit word: pass the
   * value for `SETVAL`, the address of the array (`addressOf`) for
   * `GETALL`/`SETALL`/`IPC_STAT`, 0 otherwise.
   */
  semctl(
    id: number | bigint,
    semnum: number | bigint,
    cmd: number | bigint,
    arg: number | bigint,
  ): number;
  /** `int kill(pid_t pid, int sig): kill(2)` (signal 0 only tests that the process exists). */
  kill(pid: number | bigint, sig: number | bigint): number;
  /** `pid_t gettid(void): gettid(2).` */
  gettid(): number;
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
  // Always in libc.so.6.
  [{
    clock_gettime: fn(["i32", "buffer"], "i32"), // int clock_gettime(clockid_t, struct timespec*)
    semget: fn(["i32", "i32", "i32"], "i32"), // int semget(key_t, int nsems, int semflg)
    semop: fn(["i32", "buffer", "usize"], "i32"), // int semop(int, struct sembuf*, size_t nsops)
    semtimedop: fn(["i32", "buffer", "usize", "buffer"], "i32"), // int semtimedop(int, struct sembuf*, size_t, const struct timespec*)
    // int semctl(int semid, int semnum, int cmd, ... /* union semun arg */):
    // variadic, but on x86_64 and aarch64 (Linux ABI) the one union argument
    // is passed like a fixed 64-bit integer argument.
    semctl: fn(["i32", "i32", "i32", "u64"], "i32"),
    kill: fn(["i32", "i32"], "i32"), // int kill(pid_t, int sig)
    gettid: fn([], "i32"), // pid_t gettid(void), glibc 2.30+
  }, ["libc.so.6"]],
];
