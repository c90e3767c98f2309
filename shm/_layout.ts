// Byte offsets of the C structs shm/ reads and writes, the same on x86_64
// and aarch64 (LP64 glibc; struct stat is read by ffi's statDescriptor). tests/shm/layout_test.ts checks them against a C
// program's offsetof().

/** struct statvfs (64-bit). */
export const STATVFS = {
  size: 112,
  frsize: 8,
  blocks: 16,
  bavail: 32,
} as const;

/** struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid. */
export const FLOCK = {
  size: 32,
  type: 0,
  whence: 2,
  start: 8,
  len: 16,
  pid: 24,
} as const;

/** struct shmid_ds: struct ipc_perm, then the segment's fields. */
export const SHMID_DS = {
  size: 112,
  key: 0,
  uid: 4,
  gid: 8,
  cuid: 12,
  cgid: 16,
  mode: 20,
  segsz: 48,
  atime: 56,
  dtime: 64,
  ctime: 72,
  cpid: 80,
  lpid: 84,
  nattch: 88,
} as const;
