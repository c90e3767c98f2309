// Every libc function ipckit binds, grouped by the C header that declares
// it: one runtime-neutral table per header (the C prototype beside each
// entry) and the typed interface of the same functions. Each group lists the
// libraries to look in, in order. tests/ffi/symbols_test.ts checks that the
// tables and the interfaces name the same functions with the same arity.
import { native as fn, type Pointer, type SymbolGroup } from "./_types.ts";

/** The functions of <unistd.h>, <sched.h>: read, write and close descriptors; process and thread ids; syscall(2). */
export interface UnistdCalls {
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
  /** `int pipe2(int pipefd[2], int flags): pipe2(2).` */
  pipe2(fds: ArrayBufferView | null, flags: number | bigint): number;
  /** `int ftruncate(int fd, off_t length): ftruncate(2).` */
  ftruncate(fd: number | bigint, length: number | bigint): number;
  /** `ssize_t pread(int fd, void *buf, size_t count, off_t offset): pread(2).` */
  pread(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    count: number | bigint,
    offset: number | bigint,
  ): number;
  /** `int unlink(const char *path): unlink(2).` */
  unlink(path: ArrayBufferView | null): number;
  /** `int rmdir(const char *path): rmdir(2).` */
  rmdir(path: ArrayBufferView | null): number;
  /** `ssize_t getdents64(int fd, void *dirp, size_t count): getdents64(2)`, glibc 2.30+. */
  getdents64(
    fd: number | bigint,
    dirp: ArrayBufferView | null,
    count: number | bigint,
  ): number;
  /** `int mount(const char *source, const char *target, const char *type, unsigned long flags, const void *data): mount(2)` (<sys/mount.h>). */
  mount(
    source: ArrayBufferView | null,
    target: ArrayBufferView | null,
    type: ArrayBufferView | null,
    flags: number | bigint,
    data: ArrayBufferView | null,
  ): number;
  /** `int umount2(const char *target, int flags): umount2(2)` (<sys/mount.h>). */
  umount2(target: ArrayBufferView | null, flags: number | bigint): number;
  /** `pid_t getpid(void): getpid(2).` */
  getpid(): number;
  /** `uid_t getuid(void): getuid(2).` */
  getuid(): number;
  /** `pid_t gettid(void): gettid(2).` */
  gettid(): number;
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
}

const UNISTD_TABLE = {
  close: fn(["i32"], "i32"), // int close(int fd)
  read: fn(["i32", "buffer", "usize"], "isize"), // ssize_t read(int, void*, size_t)
  write: fn(["i32", "buffer", "usize"], "isize"), // ssize_t write(int, const void*, size_t)
  pipe2: fn(["buffer", "i32"], "i32"), // int pipe2(int pipefd[2], int flags)
  ftruncate: fn(["i32", "i64"], "i32"), // int ftruncate(int fd, off_t)
  pread: fn(["i32", "buffer", "usize", "i64"], "isize"), // ssize_t pread(int, void*, size_t, off_t)
  unlink: fn(["buffer"], "i32"), // int unlink(const char* path)
  rmdir: fn(["buffer"], "i32"), // int rmdir(const char* path)
  getdents64: fn(["i32", "buffer", "usize"], "isize"), // ssize_t getdents64(int fd, void* dirp, size_t count), glibc 2.30+
  mount: fn(["buffer", "buffer", "buffer", "u64", "buffer"], "i32"), // int mount(const char* source, const char* target, const char* type, unsigned long flags, const void* data)
  umount2: fn(["buffer", "i32"], "i32"), // int umount2(const char* target, int flags)
  getpid: fn([], "i32"), // pid_t getpid(void)
  getuid: fn([], "u32"), // uid_t getuid(void)
  gettid: fn([], "i32"), // pid_t gettid(void), glibc 2.30+
  sched_yield: fn([], "i32"), // int sched_yield(void)
  // long syscall(long nr, ...): used for futex(uaddr, op, val, timeout*,
  // uaddr2, val3) and futex_waitv, whose results fit an int: read as 32 bits,
  // because a 64-bit result costs Deno about 0.8 µs a call.
  syscall: fn(["i64", "usize", "i32", "i32", "buffer", "usize", "i32"], "i32"),
} as const;

/** The functions of <poll.h>, <sys/epoll.h>, <sys/eventfd.h>: readiness. */
export interface PollCalls {
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
}

const POLL_TABLE = {
  poll: fn(["buffer", "u64", "i32"], "i32"), // int poll(struct pollfd*, nfds_t, int timeout_ms)
  epoll_create1: fn(["i32"], "i32"), // int epoll_create1(int flags)
  epoll_ctl: fn(["i32", "i32", "i32", "buffer"], "i32"), // int epoll_ctl(int epfd, int op, int fd, struct epoll_event*)
  epoll_wait: fn(["i32", "buffer", "i32", "i32"], "i32"), // int epoll_wait(int epfd, struct epoll_event*, int max, int timeout_ms)
  eventfd: fn(["u32", "i32"], "i32"), // int eventfd(unsigned initval, int flags)
} as const;

/** The functions of <fcntl.h>, <sys/stat.h>, <sys/statvfs.h>, <sys/file.h>: files. */
export interface FcntlCalls {
  /** `int open(const char *path, int flags, mode_t mode): open(2).` */
  open(
    path: ArrayBufferView | null,
    flags: number | bigint,
    mode: number | bigint,
  ): number;
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
  /**
   * `int posix_fallocate(int fd, off_t offset, off_t len): posix_fallocate(3).`
   * Returns 0 or an error number; it does not set errno.
   */
  posix_fallocate(
    fd: number | bigint,
    offset: number | bigint,
    length: number | bigint,
  ): number;
  /** `int fstat(int fd, struct stat *buf): fstat(2).` */
  fstat(fd: number | bigint, buf: ArrayBufferView | null): number;
  /** `int fstatvfs(int fd, struct statvfs *buf): fstatvfs(3).` */
  fstatvfs(fd: number | bigint, buf: ArrayBufferView | null): number;
  /** `int flock(int fd, int operation): flock(2).` */
  flock(fd: number | bigint, operation: number | bigint): number;
  /** `int mkfifo(const char *path, mode_t mode): mkfifo(3).` */
  mkfifo(path: ArrayBufferView | null, mode: number | bigint): number;
  /** `int fchmod(int fd, mode_t mode): fchmod(2)` (on an unbound Unix socket: the mode its file gets at bind, less the umask). */
  fchmod(fd: number | bigint, mode: number | bigint): number;
  /** `int chmod(const char *path, mode_t mode): chmod(2).` */
  chmod(path: ArrayBufferView | null, mode: number | bigint): number;
  /** `int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf): statx(2)`, glibc 2.28+. */
  statx(
    dirfd: number | bigint,
    path: ArrayBufferView | null,
    flags: number | bigint,
    mask: number | bigint,
    buf: ArrayBufferView | null,
  ): number;
}

const FCNTL_TABLE = {
  open: fn(["buffer", "i32", "u32"], "i32"), // int open(const char*, int flags, mode_t mode)
  fcntl: fn(["i32", "i32", "usize"], "i32"), // int fcntl(int fd, int cmd, ...): one int or pointer argument
  posix_fallocate: fn(["i32", "i64", "i64"], "i32"), // int posix_fallocate(int fd, off_t offset, off_t len)
  fstat: fn(["i32", "buffer"], "i32"), // int fstat(int fd, struct stat*)
  fstatvfs: fn(["i32", "buffer"], "i32"), // int fstatvfs(int fd, struct statvfs*)
  flock: fn(["i32", "i32"], "i32"), // int flock(int fd, int operation)
  mkfifo: fn(["buffer", "u32"], "i32"), // int mkfifo(const char* path, mode_t mode)
  fchmod: fn(["i32", "u32"], "i32"), // int fchmod(int fd, mode_t mode)
  statx: fn(["i32", "buffer", "i32", "u32", "buffer"], "i32"), // int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx*), glibc 2.28+
  chmod: fn(["buffer", "u32"], "i32"), // int chmod(const char* path, mode_t mode)
} as const;

/** The functions of <sys/mman.h>: mappings and memory files. */
export interface MmanCalls {
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
  /** `int msync(void *addr, size_t length, int flags): msync(2).` */
  msync(
    addr: Pointer | null,
    length: number | bigint,
    flags: number | bigint,
  ): number;
  /** `int memfd_create(const char *name, unsigned int flags): memfd_create(2).` */
  memfd_create(name: ArrayBufferView | null, flags: number | bigint): number;
}

const MMAN_TABLE = {
  mmap: fn(["ptr", "usize", "i32", "i32", "i32", "i64"], "ptr"), // void* mmap(void*, size_t, int prot, int flags, int fd, off_t)
  munmap: fn(["ptr", "usize"], "i32"), // int munmap(void*, size_t)
  msync: fn(["ptr", "usize", "i32"], "i32"), // int msync(void* addr, size_t length, int flags)
  memfd_create: fn(["buffer", "u32"], "i32"), // int memfd_create(const char* name, unsigned int flags)
} as const;

/** The functions of <sys/mman.h>: POSIX shared memory (librt before glibc 2.34). */
export interface MmanRtCalls {
  /** `int shm_open(const char *name, int oflag, mode_t mode): shm_open(3).` */
  shm_open(
    name: ArrayBufferView | null,
    flags: number | bigint,
    mode: number | bigint,
  ): number;
  /** `int shm_unlink(const char *name): shm_unlink(3).` */
  shm_unlink(name: ArrayBufferView | null): number;
}

const MMANRT_TABLE = {
  shm_open: fn(["buffer", "i32", "u32"], "i32"), // int shm_open(const char*, int oflag, mode_t)
  shm_unlink: fn(["buffer"], "i32"), // int shm_unlink(const char*)
} as const;

/** The functions of <mqueue.h>: POSIX message queues (librt before glibc 2.34). */
export interface MqueueCalls {
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

const MQUEUE_TABLE = {
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
} as const;

/** The functions of <semaphore.h>: POSIX semaphores (libpthread before glibc 2.34). */
export interface SemaphoreCalls {
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

const SEMAPHORE_TABLE = {
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
} as const;

/** The functions of <time.h>, <signal.h>: clocks and signals. */
export interface TimeCalls {
  /** `int clock_gettime(clockid_t clock, struct timespec *tp): clock_gettime(2).` */
  clock_gettime(clock: number | bigint, tp: ArrayBufferView | null): number;
  /** `int kill(pid_t pid, int sig): kill(2)` (signal 0 only tests that the process exists). */
  kill(pid: number | bigint, sig: number | bigint): number;
  /**
   * `int sigqueue(pid_t pid, int sig, const union sigval value): sigqueue(3)`,
   * the union passed as its 64-bit integer member.
   */
  sigqueue(
    pid: number | bigint,
    sig: number | bigint,
    value: number | bigint,
  ): number;
  /** `int sigaction(int sig, const struct sigaction *act, struct sigaction *old): sigaction(2).` */
  sigaction(
    sig: number | bigint,
    act: ArrayBufferView | null,
    old: ArrayBufferView | null,
  ): number;
  /** `int __libc_current_sigrtmin(void)`: the first real-time signal glibc leaves to programs. */
  __libc_current_sigrtmin(): number;
  /** `int __libc_current_sigrtmax(void)`: the last real-time signal. */
  __libc_current_sigrtmax(): number;
}

const TIME_TABLE = {
  clock_gettime: fn(["i32", "buffer"], "i32"), // int clock_gettime(clockid_t, struct timespec*)
  kill: fn(["i32", "i32"], "i32"), // int kill(pid_t, int sig)
  sigqueue: fn(["i32", "i32", "usize"], "i32"), // int sigqueue(pid_t, int sig, union sigval): passed in a register
  sigaction: fn(["i32", "buffer", "buffer"], "i32"), // int sigaction(int, const struct sigaction*, struct sigaction*)
  __libc_current_sigrtmin: fn([], "i32"), // int __libc_current_sigrtmin(void)
  __libc_current_sigrtmax: fn([], "i32"), // int __libc_current_sigrtmax(void)
} as const;

/** The functions of <sys/msg.h>: System V message queues. */
export interface SysvMsgCalls {
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
}

const SYSVMSG_TABLE = {
  msgget: fn(["i32", "i32"], "i32"), // int msgget(key_t, int msgflg)
  msgsnd: fn(["i32", "buffer", "usize", "i32"], "i32"), // int msgsnd(int, const void*, size_t, int)
  // ssize_t msgrcv(int, void*, size_t, long msgtyp, int); read as 32 bits
  // like mq_receive (msgmax is an int).
  msgrcv: fn(["i32", "buffer", "usize", "i64", "i32"], "i32"),
  msgctl: fn(["i32", "i32", "buffer"], "i32"), // int msgctl(int, int cmd, struct msqid_ds*)
} as const;

/** The functions of <sys/sem.h>: System V semaphores. */
export interface SysvSemCalls {
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
}

const SYSVSEM_TABLE = {
  semget: fn(["i32", "i32", "i32"], "i32"), // int semget(key_t, int nsems, int semflg)
  semop: fn(["i32", "buffer", "usize"], "i32"), // int semop(int, struct sembuf*, size_t nsops)
  semtimedop: fn(["i32", "buffer", "usize", "buffer"], "i32"), // int semtimedop(int, struct sembuf*, size_t, const struct timespec*)
  // int semctl(int semid, int semnum, int cmd, ... /* union semun arg */):
  // variadic, but on x86_64 and aarch64 (Linux ABI) the one union argument
  // is passed like a fixed 64-bit integer argument.
  semctl: fn(["i32", "i32", "i32", "u64"], "i32"),
} as const;

/** The functions of <sys/shm.h>: System V shared memory. */
export interface SysvShmCalls {
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

const SYSVSHM_TABLE = {
  shmget: fn(["i32", "usize", "i32"], "i32"), // int shmget(key_t key, size_t size, int shmflg)
  shmat: fn(["i32", "ptr", "i32"], "ptr"), // void* shmat(int shmid, const void* addr, int shmflg)
  shmdt: fn(["ptr"], "i32"), // int shmdt(const void* addr)
  shmctl: fn(["i32", "i32", "buffer"], "i32"), // int shmctl(int shmid, int cmd, struct shmid_ds*)
} as const;

/** The functions of <sys/socket.h>: sockets (addresses and messages are caller-built structs). */
export interface SocketCalls {
  /** `int socket(int domain, int type, int protocol): socket(2).` */
  socket(
    domain: number | bigint,
    type: number | bigint,
    protocol: number | bigint,
  ): number;
  /** `int socketpair(int domain, int type, int protocol, int sv[2]): socketpair(2).` */
  socketpair(
    domain: number | bigint,
    type: number | bigint,
    protocol: number | bigint,
    fds: ArrayBufferView | null,
  ): number;
  /** `int bind(int fd, const struct sockaddr *addr, socklen_t len): bind(2).` */
  bind(
    fd: number | bigint,
    addr: ArrayBufferView | null,
    length: number | bigint,
  ): number;
  /** `int listen(int fd, int backlog): listen(2).` */
  listen(fd: number | bigint, backlog: number | bigint): number;
  /** `int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags): accept4(2).` */
  accept4(
    fd: number | bigint,
    addr: ArrayBufferView | null,
    length: ArrayBufferView | null,
    flags: number | bigint,
  ): number;
  /** `int connect(int fd, const struct sockaddr *addr, socklen_t len): connect(2).` */
  connect(
    fd: number | bigint,
    addr: ArrayBufferView | null,
    length: number | bigint,
  ): number;
  /** `ssize_t send(int fd, const void *buf, size_t len, int flags): send(2).` */
  send(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    length: number | bigint,
    flags: number | bigint,
  ): number;
  /** `ssize_t recv(int fd, void *buf, size_t len, int flags): recv(2).` */
  recv(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    length: number | bigint,
    flags: number | bigint,
  ): number;
  /** `ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen): sendto(2).` */
  sendto(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    length: number | bigint,
    flags: number | bigint,
    to: ArrayBufferView | null,
    toLength: number | bigint,
  ): number;
  /** `ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen): recvfrom(2).` */
  recvfrom(
    fd: number | bigint,
    buf: ArrayBufferView | null,
    length: number | bigint,
    flags: number | bigint,
    from: ArrayBufferView | null,
    fromLength: ArrayBufferView | null,
  ): number;
  /** `ssize_t sendmsg(int fd, const struct msghdr *msg, int flags): sendmsg(2)` (the msghdr holds addresses: build it with `addressOf`). */
  sendmsg(
    fd: number | bigint,
    msg: ArrayBufferView | null,
    flags: number | bigint,
  ): number;
  /** `ssize_t recvmsg(int fd, struct msghdr *msg, int flags): recvmsg(2).` */
  recvmsg(
    fd: number | bigint,
    msg: ArrayBufferView | null,
    flags: number | bigint,
  ): number;
  /** `int shutdown(int fd, int how): shutdown(2).` */
  shutdown(fd: number | bigint, how: number | bigint): number;
  /** `int getsockopt(int fd, int level, int name, void *value, socklen_t *len): getsockopt(2).` */
  getsockopt(
    fd: number | bigint,
    level: number | bigint,
    name: number | bigint,
    value: ArrayBufferView | null,
    length: ArrayBufferView | null,
  ): number;
  /** `int setsockopt(int fd, int level, int name, const void *value, socklen_t len): setsockopt(2).` */
  setsockopt(
    fd: number | bigint,
    level: number | bigint,
    name: number | bigint,
    value: ArrayBufferView | null,
    length: number | bigint,
  ): number;
  /** `int getsockname(int fd, struct sockaddr *addr, socklen_t *len): getsockname(2).` */
  getsockname(
    fd: number | bigint,
    addr: ArrayBufferView | null,
    length: ArrayBufferView | null,
  ): number;
  /** `int getpeername(int fd, struct sockaddr *addr, socklen_t *len): getpeername(2).` */
  getpeername(
    fd: number | bigint,
    addr: ArrayBufferView | null,
    length: ArrayBufferView | null,
  ): number;
}

const SOCKET_TABLE = {
  socket: fn(["i32", "i32", "i32"], "i32"), // int socket(int domain, int type, int protocol)
  socketpair: fn(["i32", "i32", "i32", "buffer"], "i32"), // int socketpair(int, int, int, int sv[2])
  bind: fn(["i32", "buffer", "u32"], "i32"), // int bind(int, const struct sockaddr*, socklen_t)
  listen: fn(["i32", "i32"], "i32"), // int listen(int fd, int backlog)
  accept4: fn(["i32", "buffer", "buffer", "i32"], "i32"), // int accept4(int, struct sockaddr*, socklen_t*, int flags)
  connect: fn(["i32", "buffer", "u32"], "i32"), // int connect(int, const struct sockaddr*, socklen_t)
  send: fn(["i32", "buffer", "usize", "i32"], "isize"), // ssize_t send(int, const void*, size_t, int flags)
  recv: fn(["i32", "buffer", "usize", "i32"], "isize"), // ssize_t recv(int, void*, size_t, int flags)
  sendto: fn(["i32", "buffer", "usize", "i32", "buffer", "u32"], "isize"), // ssize_t sendto(int, const void*, size_t, int, const struct sockaddr*, socklen_t)
  recvfrom: fn(["i32", "buffer", "usize", "i32", "buffer", "buffer"], "isize"), // ssize_t recvfrom(int, void*, size_t, int, struct sockaddr*, socklen_t*)
  sendmsg: fn(["i32", "buffer", "i32"], "isize"), // ssize_t sendmsg(int, const struct msghdr*, int flags)
  recvmsg: fn(["i32", "buffer", "i32"], "isize"), // ssize_t recvmsg(int, struct msghdr*, int flags)
  shutdown: fn(["i32", "i32"], "i32"), // int shutdown(int fd, int how)
  getsockopt: fn(["i32", "i32", "i32", "buffer", "buffer"], "i32"), // int getsockopt(int, int level, int name, void*, socklen_t*)
  setsockopt: fn(["i32", "i32", "i32", "buffer", "u32"], "i32"), // int setsockopt(int, int level, int name, const void*, socklen_t)
  getsockname: fn(["i32", "buffer", "buffer"], "i32"), // int getsockname(int, struct sockaddr*, socklen_t*)
  getpeername: fn(["i32", "buffer", "buffer"], "i32"), // int getpeername(int, struct sockaddr*, socklen_t*)
} as const;

/** The functions of <stdlib.h>, <string.h>: the environment. */
export interface StdlibCalls {
  /** `char *getenv(const char *name): getenv(3).` */
  getenv(name: ArrayBufferView | null): Pointer | null;
  /** `size_t strlen(const char *s): strlen(3).` */
  strlen(s: Pointer | null): number;
  /** `char *mkdtemp(char *template): mkdtemp(3)`; fills in the template's `XXXXXX` in place. */
  mkdtemp(template: ArrayBufferView | null): Pointer | null;
  /** `const char *gnu_get_libc_version(void): gnu_get_libc_version(3).` */
  gnu_get_libc_version(): Pointer | null;
}

const STDLIB_TABLE = {
  getenv: fn(["buffer"], "ptr"), // char* getenv(const char* name)
  strlen: fn(["ptr"], "usize"), // size_t strlen(const char* s)
  mkdtemp: fn(["buffer"], "ptr"), // char* mkdtemp(char* template)
  gnu_get_libc_version: fn([], "ptr"), // const char* gnu_get_libc_version(void)
} as const;

/** Every table, with the libraries to try for it, in order. */
export const SYMBOL_GROUPS = [
  [UNISTD_TABLE, ["libc.so.6"]],
  [POLL_TABLE, ["libc.so.6"]],
  [FCNTL_TABLE, ["libc.so.6"]],
  [MMAN_TABLE, ["libc.so.6"]],
  [MMANRT_TABLE, ["libc.so.6", "librt.so.1"]],
  [MQUEUE_TABLE, ["libc.so.6", "librt.so.1"]],
  [SEMAPHORE_TABLE, ["libc.so.6", "libpthread.so.0"]],
  [TIME_TABLE, ["libc.so.6"]],
  [SYSVMSG_TABLE, ["libc.so.6"]],
  [SYSVSEM_TABLE, ["libc.so.6"]],
  [SYSVSHM_TABLE, ["libc.so.6"]],
  [SOCKET_TABLE, ["libc.so.6"]],
  [STDLIB_TABLE, ["libc.so.6"]],
] as const satisfies readonly SymbolGroup[];
