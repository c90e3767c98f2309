// fstat(2) through libc, read in one place: size, type, mode, owner and the
// device and inode numbers (ftok keys, PID namespaces, file identity).
import { errno, libc } from "./_libc.ts";
import { statLayout } from "./_stat_layout.ts";
import { IpcError, type IpcErrorOptions } from "./error.ts";
import { cString } from "./names.ts";

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;
const S_IFMT = 0o170000;

/** What fstat(2) says about a file. */
export interface FileStatus {
  /** `st_dev`: the device the file lives on. */
  readonly dev: bigint;
  /** `st_ino`: the inode number. */
  readonly ino: bigint;
  /** Permission bits (`st_mode & 0o7777`). */
  readonly mode: number;
  /** File type bits (`st_mode & S_IFMT`: `0o100000` a regular file, ...). */
  readonly type: number;
  /** `st_uid`: the owner. */
  readonly uid: number;
  /** `st_rdev`: the device a device file stands for. */
  readonly rdev: bigint;
  /** `st_size` in bytes. */
  readonly size: number;
}

/**
 * fstat(2) of a descriptor.
 *
 * @example
 * ```ts
 * import { libc, statDescriptor } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(0, 0x80000);
 * console.log(statDescriptor(fd).size); // 0
 * libc().close(fd);
 * ```
 *
 * @param fd The descriptor.
 * @param failure What to say if it fails.
 * @returns The status.
 * @throws {IpcError} `EBADF` for a descriptor that is not open.
 */
export function statDescriptor(
  fd: number,
  failure: IpcErrorOptions = { syscall: "fstat" },
): FileStatus {
  const at = statLayout();
  const buffer = new BigUint64Array(at.size / 8);
  while (libc().fstat(fd, buffer) === -1) {
    const e = errno();
    if (e !== EINTR) throw new IpcError(e, { ...failure, syscall: "fstat" });
  }
  const view = new DataView(buffer.buffer);
  const mode = view.getUint32(at.mode, true);
  return {
    dev: view.getBigUint64(at.dev, true),
    ino: view.getBigUint64(at.ino, true),
    mode: mode & 0o7777,
    type: mode & S_IFMT,
    uid: view.getUint32(at.uid, true),
    rdev: view.getBigUint64(at.rdev, true),
    size: Number(view.getBigInt64(at.bytes, true)),
  };
}

/**
 * The status of a path (opened with `O_PATH`, so it needs no read
 * permission on the file and Deno needs only `--allow-ffi`).
 *
 * @example
 * ```ts
 * import { statPath } from "@ipckit/ipc/ffi";
 *
 * console.log(statPath("/tmp").type === 0o040000); // true: a directory
 * ```
 *
 * @param path The file.
 * @param failure What to say if it fails.
 * @returns The status.
 * @throws {IpcError} `ENOENT`, `EACCES` (a directory on the way).
 */
export function statPath(
  path: string,
  failure: IpcErrorOptions = { syscall: "open", path },
): FileStatus {
  const name = cString(path);
  let fd: number;
  while ((fd = libc().open(name, O_PATH | O_CLOEXEC, 0)) === -1) {
    const e = errno();
    if (e !== EINTR) throw new IpcError(e, { ...failure, syscall: "open" });
  }
  try {
    return statDescriptor(fd, failure);
  } finally {
    libc().close(fd);
  }
}
