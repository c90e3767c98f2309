// The libc functions of shared memory (shm/), in their own table so the
// module's bindings sit together.
import { native as fn, type SymbolGroup } from "./_types.ts";

/** Shared-memory functions, each the raw C call. */
export interface ShmCalls {
  /** `int shm_open(const char *name, int oflag, mode_t mode): shm_open(3).` */
  shm_open(
    name: ArrayBufferView | null,
    flags: number | bigint,
    mode: number | bigint,
  ): number;
  /** `int shm_unlink(const char *name): shm_unlink(3).` */
  shm_unlink(name: ArrayBufferView | null): number;
}

/** Their symbol tables, with the libraries to try for each. */
export const SHM_GROUPS: readonly SymbolGroup[] = [
  // In libc.so.6 since glibc 2.34; in librt.so.1 before.
  [{
    shm_open: fn(["buffer", "i32", "u32"], "i32"), // int shm_open(const char*, int oflag, mode_t)
    shm_unlink: fn(["buffer"], "i32"), // int shm_unlink(const char*)
  }, ["libc.so.6", "librt.so.1"]],
];
