// The libc functions ipckit calls, described once for both runtimes, and
// opened lazily: importing this file costs nothing and needs no permission.
import {
  type Backend,
  native as fn,
  type Pointer,
  type SymbolGroup,
  type SymbolTable,
} from "./_types.ts";
import { denoBackend } from "./_deno.ts";
import { bunBackend } from "./_bun.ts";
import { SHM_GROUPS, type ShmCalls } from "./_libc_shm.ts";
import { SEM_GROUPS, type SemCalls } from "./_libc_sem.ts";

// Always in libc.so.6.
const CORE: SymbolTable = {
  close: fn(["i32"], "i32"), // int close(int fd)
  read: fn(["i32", "buffer", "usize"], "isize"), // ssize_t read(int, void*, size_t)
  write: fn(["i32", "buffer", "usize"], "isize"), // ssize_t write(int, const void*, size_t)
  poll: fn(["buffer", "u64", "i32"], "i32"), // int poll(struct pollfd*, nfds_t, int timeout_ms)
  epoll_create1: fn(["i32"], "i32"), // int epoll_create1(int flags)
  epoll_ctl: fn(["i32", "i32", "i32", "buffer"], "i32"), // int epoll_ctl(int epfd, int op, int fd, struct epoll_event*)
  epoll_wait: fn(["i32", "buffer", "i32", "i32"], "i32"), // int epoll_wait(int epfd, struct epoll_event*, int max, int timeout_ms)
  eventfd: fn(["u32", "i32"], "i32"), // int eventfd(unsigned initval, int flags)
  getpid: fn([], "i32"), // pid_t getpid(void)
  sched_yield: fn([], "i32"), // int sched_yield(void)
  // long syscall(long nr, ...): used for futex(uaddr, op, val, timeout*,
  // uaddr2, val3) and futex_waitv, whose results fit an int: read as 32 bits,
  // because a 64-bit result costs Deno about 0.8 µs a call.
  syscall: fn(["i64", "usize", "i32", "i32", "buffer", "usize", "i32"], "i32"),
  msgget: fn(["i32", "i32"], "i32"), // int msgget(key_t, int msgflg)
  msgsnd: fn(["i32", "buffer", "usize", "i32"], "i32"), // int msgsnd(int, const void*, size_t, int)
  // ssize_t msgrcv(int, void*, size_t, long msgtyp, int); read as 32 bits
  // like mq_receive (msgmax is an int).
  msgrcv: fn(["i32", "buffer", "usize", "i64", "i32"], "i32"),
  msgctl: fn(["i32", "i32", "buffer"], "i32"), // int msgctl(int, int cmd, struct msqid_ds*)
  mmap: fn(["ptr", "usize", "i32", "i32", "i32", "i64"], "ptr"), // void* mmap(void*, size_t, int prot, int flags, int fd, off_t)
  munmap: fn(["ptr", "usize"], "i32"), // int munmap(void*, size_t)
  ftruncate: fn(["i32", "i64"], "i32"), // int ftruncate(int fd, off_t)
};

// In libc.so.6 since glibc 2.34; in librt.so.1 before.
const RT: SymbolTable = {
  mq_open: fn(["buffer", "i32", "u32", "buffer"], "i32"), // mqd_t mq_open(const char*, int oflag, mode_t, struct mq_attr*)
  mq_close: fn(["i32"], "i32"), // int mq_close(mqd_t)
  mq_unlink: fn(["buffer"], "i32"), // int mq_unlink(const char*)
  mq_send: fn(["i32", "buffer", "usize", "u32"], "i32"), // int mq_send(mqd_t, const char*, size_t, unsigned prio)
  // ssize_t mq_receive(mqd_t, char*, size_t, unsigned* prio); the result is
  // read as its low 32 bits (a message is at most 16 MiB), because a 64-bit
  // result costs Deno about 0.8 µs a call.
  mq_receive: fn(["i32", "buffer", "usize", "buffer"], "i32"),
  mq_getattr: fn(["i32", "buffer"], "i32"), // int mq_getattr(mqd_t, struct mq_attr*)
  mq_setattr: fn(["i32", "buffer", "buffer"], "i32"), // int mq_setattr(mqd_t, const struct mq_attr*, struct mq_attr* old)
  mq_notify: fn(["i32", "buffer"], "i32"), // int mq_notify(mqd_t, const struct sigevent*)
};

const GROUPS: readonly SymbolGroup[] = [
  [CORE, ["libc.so.6"]],
  [RT, ["libc.so.6", "librt.so.1"]],
  ...SHM_GROUPS,
  ...SEM_GROUPS,
];

/**
 * Every libc function ipckit binds, callable synchronously. Written out by
 * hand (not derived from the tables) so the published types stay explicit.
 */
export interface Libc extends ShmCalls, SemCalls {
  /** `int close(int fd): close(2).` */
  close(fd: number | bigint): number;
  /** `ssize_t read(int fd, void *buf, size_t count): read(2).` */
  read(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    count: number | bigint,
  ): number;
  /** `ssize_t write(int fd, const void *buf, size_t count): write(2).` */
  write(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    count: number | bigint,
  ): number;
  /** `int poll(struct pollfd *fds, nfds_t nfds, int timeout): poll(2).` */
  poll(
    fds: ArrayBufferView | null,
    nfds: number | bigint,
    timeoutMs: number | bigint,
  ): number;
  /** `int epoll_create1(int flags): epoll_create1(2).` */
  epoll_create1(flags: number | bigint): number;
  /** `int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event): epoll_ctl(2).` */
  epoll_ctl(
    epfd: number | bigint,
    op: number | bigint,
    fd: number | bigint,
    event: ArrayBufferView | null,
  ): number;
  /** `int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout): epoll_wait(2).` */
  epoll_wait(
    epfd: number | bigint,
    events: ArrayBufferView | null,
    max: number | bigint,
    timeoutMs: number | bigint,
  ): number;
  /** `int eventfd(unsigned initval, int flags): eventfd(2).` */
  eventfd(initval: number | bigint, flags: number | bigint): number;
  /** `pid_t getpid(void): getpid(2).` */
  getpid(): number;
  /** `int sched_yield(void): sched_yield(2).` */
  sched_yield(): number;
  /** `long syscall(long nr, ...): syscall(2), bound with six integer-or-pointer arguments (futex).` */
  syscall(
    nr: number | bigint,
    a1: number | bigint,
    a2: number | bigint,
    a3: number | bigint,
    a4: ArrayBufferView | null,
    a5: number | bigint,
    a6: number | bigint,
  ): number;
  /** `int msgget(key_t key, int msgflg): msgget(2).` */
  msgget(key: number | bigint, flags: number | bigint): number;
  /** `int msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg): msgsnd(2).` */
  msgsnd(
    id: number | bigint,
    msg: ArrayBufferView | null,
    size: number | bigint,
    flags: number | bigint,
  ): number;
  /** `ssize_t msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg): msgrcv(2).` */
  msgrcv(
    id: number | bigint,
    msg: ArrayBufferView | null,
    size: number | bigint,
    type: number | bigint,
    flags: number | bigint,
  ): number;
  /** `int msgctl(int msqid, int cmd, struct msqid_ds *buf): msgctl(2).` */
  msgctl(
    id: number | bigint,
    cmd: number | bigint,
    buf: ArrayBufferView | null,
  ): number;
  /** `void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset): mmap(2).` */
  mmap(
    addr: Pointer | null,
    length: number | bigint,
    prot: number | bigint,
    flags: number | bigint,
    fd: number | bigint,
    offset: number | bigint,
  ): Pointer | null;
  /** `int munmap(void *addr, size_t length): munmap(2).` */
  munmap(addr: Pointer | null, length: number | bigint): number;
  /** `int ftruncate(int fd, off_t length): ftruncate(2).` */
  ftruncate(fd: number | bigint, length: number | bigint): number;
  /** `mqd_t mq_open(const char *name, int oflag, mode_t mode, struct mq_attr *attr): mq_open(3).` */
  mq_open(
    name: ArrayBufferView | null,
    flags: number | bigint,
    mode: number | bigint,
    attr: ArrayBufferView | null,
  ): number;
  /** `int mq_close(mqd_t mqdes): mq_close(3).` */
  mq_close(mqd: number | bigint): number;
  /** `int mq_unlink(const char *name): mq_unlink(3).` */
  mq_unlink(name: ArrayBufferView | null): number;
  /** `int mq_send(mqd_t mqdes, const char *msg, size_t len, unsigned prio): mq_send(3).` */
  mq_send(
    mqd: number | bigint,
    msg: ArrayBufferView | null,
    size: number | bigint,
    priority: number | bigint,
  ): number;
  /** `ssize_t mq_receive(mqd_t mqdes, char *msg, size_t len, unsigned *prio): mq_receive(3).` */
  mq_receive(
    mqd: number | bigint,
    msg: ArrayBufferView | null,
    size: number | bigint,
    priority: ArrayBufferView | null,
  ): number;
  /** `int mq_getattr(mqd_t mqdes, struct mq_attr *attr): mq_getattr(3).` */
  mq_getattr(mqd: number | bigint, attr: ArrayBufferView | null): number;
  /** `int mq_setattr(mqd_t mqdes, const struct mq_attr *attr, struct mq_attr *old): mq_setattr(3).` */
  mq_setattr(
    mqd: number | bigint,
    attr: ArrayBufferView | null,
    old: ArrayBufferView | null,
  ): number;
  /** `int mq_notify(mqd_t mqdes, const struct sigevent *sevp): mq_notify(3).` */
  mq_notify(mqd: number | bigint, sevp: ArrayBufferView | null): number;
}

let backendCache: Backend | undefined;
let libcCache: Libc | undefined;

/**
 * The FFI backend of the running runtime (Deno or Bun), chosen once.
 *
 * @example
 * ```ts
 * import { backend } from "@ipckit/ipc/ffi";
 *
 * console.log(backend().runtime); // "deno" or "bun"
 * ```
 *
 * @returns The backend.
 */
export function backend(): Backend {
  if (backendCache === undefined) {
    const g = globalThis as { Bun?: unknown; Deno?: unknown };
    if (g.Bun !== undefined) backendCache = bunBackend();
    else if (g.Deno !== undefined) backendCache = denoBackend();
    else throw new Error("ipckit runs on Deno or Bun: no FFI backend found");
  }
  return backendCache;
}

/**
 * The libc binding, opened on first use (`--allow-ffi` in Deno). Each
 * function is the raw C call: check its result and read {@linkcode errno}
 * at once, or use `sys()` / `trySys()` which do both.
 *
 * @example
 * ```ts
 * import { libc } from "@ipckit/ipc/ffi";
 *
 * console.log(libc().getpid() > 0); // true
 * ```
 *
 * @returns The binding.
 */
export function libc(): Libc {
  if (libcCache === undefined) {
    const b = backend();
    const calls: Record<string, unknown> = {};
    for (const [table, paths] of GROUPS) {
      let lastError: unknown;
      let opened = false;
      for (const path of paths) {
        try {
          Object.assign(calls, b.open(path, table));
          opened = true;
          break;
        } catch (error) {
          // Permission errors (--allow-ffi missing) propagate unchanged.
          if ((error as Error)?.name === "NotCapable") throw error;
          if ((error as Error)?.name === "PermissionDenied") throw error;
          lastError = error;
        }
      }
      if (!opened) throw lastError;
    }
    libcCache = calls as unknown as Libc;
  }
  return libcCache;
}

/**
 * The calling thread's errno; read it right after the failing call.
 *
 * @example
 * ```ts
 * import { errno, libc } from "@ipckit/ipc/ffi";
 *
 * if (libc().close(9999) === -1) console.log(errno()); // 9 (EBADF)
 * ```
 *
 * @returns The errno value.
 */
export function errno(): number {
  return backend().errno();
}
