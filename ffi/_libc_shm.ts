// The libc functions of shared memory (shm/), in their own table so the
// module's bindings sit together.
import type { Pointer } from "./_types.ts";
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
  /** `int open(const char *path, int flags, mode_t mode): open(2).` */
  open(
    path: ArrayBufferView | null,
    flags: number | bigint,
    mode: number | bigint,
  ): number;
  /** `int fstat(int fd, struct stat *buf): fstat(2).` */
  fstat(fd: number | bigint, buf: ArrayBufferView | null): number;
  /** `int fstatvfs(int fd, struct statvfs *buf): fstatvfs(3).` */
  fstatvfs(fd: number | bigint, buf: ArrayBufferView | null): number;
  /**
   * `int posix_fallocate(int fd, off_t offset, off_t len): posix_fallocate(3).`
   * Returns 0 or an error number; it does not set errno.
   */
  posix_fallocate(
    fd: number | bigint,
    offset: number | bigint,
    length: number | bigint,
  ): number;
  /** `int memfd_create(const char *name, unsigned int flags): memfd_create(2).` */
  memfd_create(name: ArrayBufferView | null, flags: number | bigint): number;
  /**
   * `int fcntl(int fd, int cmd, ... arg): fcntl(2)`, bound with one integer
   * argument: an int (`F_SETFD`, `F_ADD_SEALS`) or the address of a struct
   * (`F_OFD_SETLK`: pass `addressOf(view)`), 0 when the command takes none.
   */
  fcntl(
    fd: number | bigint,
    cmd: number | bigint,
    arg: number | bigint,
  ): number;
  /** `int flock(int fd, int operation): flock(2).` */
  flock(fd: number | bigint, operation: number | bigint): number;
  /** `int msync(void *addr, size_t length, int flags): msync(2).` */
  msync(
    addr: Pointer | null,
    length: number | bigint,
    flags: number | bigint,
  ): number;
  /** `int shmget(key_t key, size_t size, int shmflg): shmget(2).` */
  shmget(
    key: number | bigint,
    size: number | bigint,
    flags: number | bigint,
  ): number;
  /** `void *shmat(int shmid, const void *addr, int shmflg): shmat(2); (void*)-1 on failure.` */
  shmat(
    id: number | bigint,
    addr: Pointer | null,
    flags: number | bigint,
  ): Pointer | null;
  /** `int shmdt(const void *addr): shmdt(2).` */
  shmdt(addr: Pointer | null): number;
  /** `int shmctl(int shmid, int cmd, struct shmid_ds *buf): shmctl(2).` */
  shmctl(
    id: number | bigint,
    cmd: number | bigint,
    buf: ArrayBufferView | null,
  ): number;
}

/** Their symbol tables, with the libraries to try for each. */
export const SHM_GROUPS: readonly SymbolGroup[] = [
  // In libc.so.6 since glibc 2.34; in librt.so.1 before.
  [{
    shm_open: fn(["buffer", "i32", "u32"], "i32"), // int shm_open(const char*, int oflag, mode_t)
    shm_unlink: fn(["buffer"], "i32"), // int shm_unlink(const char*)
  }, ["libc.so.6", "librt.so.1"]],
  // Always in libc.so.6 (fstat as a symbol since glibc 2.33).
  [{
    open: fn(["buffer", "i32", "u32"], "i32"), // int open(const char*, int flags, mode_t mode)
    fstat: fn(["i32", "buffer"], "i32"), // int fstat(int fd, struct stat*)
    fstatvfs: fn(["i32", "buffer"], "i32"), // int fstatvfs(int fd, struct statvfs*)
    posix_fallocate: fn(["i32", "i64", "i64"], "i32"), // int posix_fallocate(int fd, off_t offset, off_t len)
    memfd_create: fn(["buffer", "u32"], "i32"), // int memfd_create(const char* name, unsigned int flags)
    fcntl: fn(["i32", "i32", "usize"], "i32"), // int fcntl(int fd, int cmd, ...): one int or pointer argument
    flock: fn(["i32", "i32"], "i32"), // int flock(int fd, int operation)
    msync: fn(["ptr", "usize", "i32"], "i32"), // int msync(void* addr, size_t length, int flags)
    shmget: fn(["i32", "usize", "i32"], "i32"), // int shmget(key_t key, size_t size, int shmflg)
    shmat: fn(["i32", "ptr", "i32"], "ptr"), // void* shmat(int shmid, const void* addr, int shmflg)
    shmdt: fn(["ptr"], "i32"), // int shmdt(const void* addr)
    shmctl: fn(["i32", "i32", "buffer"], "i32"), // int shmctl(int shmid, int cmd, struct shmid_ds*)
  }, ["libc.so.6"]],
];
