// What the ipckit command asks the system, all through libc (ffi), so that
// Deno needs --allow-ffi only: Deno's own file APIs refuse /dev and /proc
// without --allow-all. Directory entries come from getdents64(2), file
// status from statx(2) (one layout on every architecture), kernel files from
// ffi's readKernelFile().
import {
  backend,
  cString,
  errno,
  hasLibcFunction,
  IpcError,
  libc,
  readEnvironment,
  readKernelFile,
  sys,
} from "../ffi/mod.ts";

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;
const STATX_BTIME = 0x800;
const EINTR = 4;
const decoder = new TextDecoder();

/** Whether an error is the runtime's refusal (Deno without --allow-ffi). */
export function isPermissionError(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === "NotCapable" || name === "PermissionDenied";
}

/** One directory entry, as getdents64(2) gives it. */
export interface DirectoryEntry {
  readonly name: string;
  /** `d_type`: 8 a regular file, 4 a directory, 0 unknown. */
  readonly type: number;
}

/** Regular file `d_type`. */
export const DT_REG = 8;

/**
 * The entries of a directory (without "." and ".."), read with
 * getdents64(2).
 */
export function readDirectory(path: string): DirectoryEntry[] {
  if (!hasLibcFunction("getdents64")) {
    throw new Error(
      `Cannot list ${path}: this C library has no getdents64 (glibc 2.30+ needed)`,
    );
  }
  const fd = sys(
    () => libc().open(cString(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0),
    { syscall: "open", path, action: "open directory" },
  );
  const entries: DirectoryEntry[] = [];
  try {
    const buffer = new Uint8Array(32768);
    const view = new DataView(buffer.buffer);
    for (;;) {
      const n = sys(() => libc().getdents64(fd, buffer, buffer.length), {
        syscall: "getdents64",
        path,
        action: "list directory",
      });
      if (n === 0) break;
      // struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16,
      // d_type u8, d_name (NUL-terminated).
      for (let at = 0; at < n;) {
        const length = view.getUint16(at + 16, true);
        const type = view.getUint8(at + 18);
        const nameStart = at + 19;
        let nameEnd = nameStart;
        while (nameEnd < at + length && buffer[nameEnd] !== 0) nameEnd++;
        const name = decoder.decode(buffer.subarray(nameStart, nameEnd));
        if (name !== "." && name !== "..") entries.push({ name, type });
        at += length;
      }
    }
  } finally {
    libc().close(fd);
  }
  return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** What statx(2) says about a file. */
export interface FileInfo {
  /** Permission bits. */
  readonly mode: number;
  /** File type bits (`0o100000` a regular file). */
  readonly type: number;
  readonly uid: number;
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly ctime: number;
  /** Creation time, where the file system records one. */
  readonly btime: number | undefined;
}

/** statx(2) of a path (not following a last symbolic link). */
export function statFile(path: string): FileInfo {
  const buffer = new Uint8Array(256);
  const view = new DataView(buffer.buffer);
  sys(
    () =>
      libc().statx(
        AT_FDCWD,
        cString(path),
        AT_SYMLINK_NOFOLLOW,
        STATX_BASIC_STATS | STATX_BTIME,
        buffer,
      ),
    { syscall: "statx", path, action: "read the status of" },
  );
  // struct statx: stx_mask u32 @0, stx_uid u32 @20, stx_mode u16 @28,
  // stx_size u64 @40, timestamps {s64 sec, u32 nsec, s32} at 64 (atime),
  // 80 (btime), 96 (ctime), 112 (mtime).
  const mask = view.getUint32(0, true);
  const mode = view.getUint16(28, true);
  const time = (at: number) =>
    Number(view.getBigInt64(at, true)) + view.getUint32(at + 8, true) / 1e9;
  return {
    mode: mode & 0o7777,
    type: mode & 0o170000,
    uid: view.getUint32(20, true),
    size: Number(view.getBigUint64(40, true)),
    mtime: time(112),
    ctime: time(96),
    btime: (mask & STATX_BTIME) !== 0 && time(80) > 0 ? time(80) : undefined,
  };
}

/** Bytes of a file from its start, or `undefined` when it cannot be read. */
export function readFileStart(
  path: string,
  length: number,
): Uint8Array | undefined {
  const fd = libc().open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    const buffer = new Uint8Array(length);
    for (;;) {
      const n = libc().pread(fd, buffer, length, 0);
      if (n >= 0) return buffer.subarray(0, n);
      if (errno() !== EINTR) return undefined;
    }
  } finally {
    libc().close(fd);
  }
}

let users: Map<number, string> | undefined;

/** The user name of a uid (from /etc/passwd), or the number. */
export function userName(uid: number): string {
  if (users === undefined) {
    users = new Map();
    const text = readKernelFile("/etc/passwd", 1 << 22) ?? "";
    for (const line of text.split("\n")) {
      const [name, , id] = line.split(":");
      if (name && id !== undefined && /^\d+$/.test(id) && !users.has(+id)) {
        users.set(+id, name);
      }
    }
  }
  return users.get(uid) ?? String(uid);
}

/** Free and total bytes of the file system holding `path` (fstatvfs(3)). */
export function fileSystemSpace(
  path: string,
): { total: number; free: number } {
  const O_PATH = 0o10000000;
  const fd = sys(() => libc().open(cString(path), O_PATH | O_CLOEXEC, 0), {
    syscall: "open",
    path,
  });
  try {
    // struct statvfs (LP64 glibc): f_bsize, f_frsize, f_blocks, f_bfree,
    // f_bavail, ... each an unsigned long.
    const buf = new BigUint64Array(14);
    sys(() => libc().fstatvfs(fd, buf), { syscall: "fstatvfs", path });
    const frsize = Number(buf[1] ?? 0n);
    return {
      total: frsize * Number(buf[2] ?? 0n),
      free: frsize * Number(buf[4] ?? 0n),
    };
  } finally {
    libc().close(fd);
  }
}

/** The C library's version ("2.36"), or `undefined` when not glibc. */
export function glibcVersion(): string | undefined {
  if (!hasLibcFunction("gnu_get_libc_version")) return undefined;
  const p = libc().gnu_get_libc_version();
  if (p === null || backend().addressOfPointer(p) === 0) return undefined;
  const length = libc().strlen(p);
  return decoder.decode(new Uint8Array(backend().view(p, length)).slice());
}

/** Where message queues can be listed, and how to let go of it. */
export interface MqueueDirectory {
  /** The directory, or `undefined` when none could be found or made. */
  readonly path: string | undefined;
  /** Why there is none, or how it was found. */
  readonly note: string;
  /** Unmounts and removes a mount made for this run. */
  release(): void;
}

/** The mount points of `fstype` in this process's mount namespace. */
export function mountsOf(fstype: string): string[] {
  const text = readKernelFile("/proc/self/mountinfo", 1 << 22) ?? "";
  const found: string[] = [];
  for (const line of text.split("\n")) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE
    const [left, right] = line.split(" - ");
    if (left === undefined || right === undefined) continue;
    if (right.split(" ")[0] !== fstype) continue;
    const point = left.split(" ")[4];
    if (point !== undefined) {
      found.push(
        point.replace(
          /\\(\d{3})/g,
          (_, o: string) => String.fromCharCode(parseInt(o, 8)),
        ),
      );
    }
  }
  return found;
}

/**
 * A directory listing this IPC namespace's message queues: an mqueue file
 * system already mounted (/dev/mqueue, say), else, for root, a private one
 * mounted in a fresh temporary directory (unmounted by `release()`).
 */
export function mqueueDirectory(): MqueueDirectory {
  const mounted = mountsOf("mqueue");
  const existing = mounted.includes("/dev/mqueue") ? "/dev/mqueue" : mounted[0];
  if (existing !== undefined) {
    return { path: existing, note: `mounted at ${existing}`, release() {} };
  }
  if (libc().getuid() !== 0) {
    return {
      path: undefined,
      note: "no mqueue file system is mounted, and only root can mount one " +
        "(as root: mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue)",
      release() {},
    };
  }
  const tmp = (readEnvironment("TMPDIR") || "/tmp").replace(/\/+$/, "");
  const template = cString(`${tmp}/ipckit-mqueue-XXXXXX`);
  const made = libc().mkdtemp(template);
  if (made === null || backend().addressOfPointer(made) === 0) {
    const e = new IpcError(errno(), { syscall: "mkdtemp", path: tmp });
    return { path: undefined, note: e.message, release() {} };
  }
  const dir = decoder.decode(template.subarray(0, template.indexOf(0)));
  const dirName = cString(dir);
  const MS_NOSUID = 2;
  const MS_NODEV = 4;
  const MS_NOEXEC = 8;
  const result = libc().mount(
    cString("mqueue"),
    dirName,
    cString("mqueue"),
    MS_NOSUID | MS_NODEV | MS_NOEXEC,
    cString(""),
  );
  if (result !== 0) {
    const e = new IpcError(errno(), {
      syscall: "mount",
      path: dir,
      action: "mount an mqueue file system on",
    });
    libc().rmdir(dirName);
    return { path: undefined, note: e.message, release() {} };
  }
  let released = false;
  return {
    path: dir,
    note: `mounted for this listing at ${dir}`,
    release() {
      if (released) return;
      released = true;
      const MNT_DETACH = 2;
      libc().umount2(dirName, MNT_DETACH);
      libc().rmdir(dirName);
    },
  };
}
