import {
  checkBoolean,
  checkInteger,
  checkMode,
  checkOptions,
  checkSysvKey,
  IPC_PRIVATE,
  type IpcErrorOptions,
  libc,
  type Pointer,
  removeAtExit,
  sys,
  sysvKeyFromPath,
  sysvLabel,
} from "../ffi/mod.ts";
import {
  checkAccess,
  checkMemory,
  checkSize,
  failedPointer,
  openOrCreate,
  Region,
} from "./_region.ts";
import { SHMID_DS } from "./_layout.ts";
import { MappedMemory } from "./mapped_memory.ts";

const IPC_CREAT = 0o1000;
const IPC_EXCL = 0o2000;
const IPC_RMID = 0;
const IPC_STAT = 2;
const SHM_RDONLY = 0o10000;
const WHAT = "System V shared memory";

/** Options for {@linkcode SysvSharedMemory.open}. */
export interface SysvSharedMemoryOptions {
  /**
   * Create the segment if no segment has this key (`IPC_CREAT`); `size` is
   * then required.
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * With `create`, fail with `EEXIST` if a segment has this key
   * (`IPC_EXCL`).
   * @default {false}
   */
  exclusive?: boolean | undefined;
  /**
   * Permission bits (`0o777` at most) of a new segment; the umask does not
   * apply to System V objects.
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * Size in bytes of a new segment (the kernel rounds the memory up to
   * pages; `size` reports what was asked). For an existing segment, at most
   * its size (`EINVAL` otherwise).
   * @default {the existing segment's size}
   */
  size?: number | undefined;
  /**
   * Attach read-only (`SHM_RDONLY`): `buffer` and `view()` then throw (a
   * JavaScript write would kill the process), `read()` copies.
   * @default {"read-write"}
   */
  access?: "read" | "read-write" | undefined;
}

/** Options for a segment without a key. */
export interface SysvPrivateSharedMemoryOptions {
  /** Size in bytes. */
  size: number;
  /**
   * Permission bits (`0o777` at most).
   * @default {0o600}
   */
  mode?: number | undefined;
}

/** A segment's state (shmctl(2) `IPC_STAT`). */
export interface SysvSharedMemoryAttributes {
  /** The key, as an unsigned 32-bit number (0 for a private segment). */
  key: number;
  /** Size in bytes. */
  size: number;
  /** Owner's user id. */
  uid: number;
  /** Owner's group id. */
  gid: number;
  /** Creator's user id. */
  creatorUid: number;
  /** Permission bits. */
  mode: number;
  /** Processes attached right now. */
  attachCount: number;
  /** Process that created it. */
  creatorPid: number;
  /** Process that last attached or detached. */
  lastPid: number;
  /** Last attach, if any. */
  lastAttachTime?: Date | undefined;
  /** Last detach, if any. */
  lastDetachTime?: Date | undefined;
  /** Last change (creation or `IPC_SET`). */
  changeTime: Date;
  /**
   * Marked for removal (`IPC_RMID` while still attached): it goes when the
   * last process detaches.
   */
  removed: boolean;
}

function hint(code: string, create: boolean): string | undefined {
  switch (code) {
    case "ENOENT":
      return create
        ? undefined
        : "No segment has this key; pass { create: true, size } to create it";
    case "EEXIST":
      return "A segment with this key exists and { exclusive: true } was given";
    case "EINVAL":
      return "The size is below SHMMIN or above /proc/sys/kernel/shmmax, or larger than the existing segment";
    case "ENOSPC":
      return "Over /proc/sys/kernel/shmmni (segments) or shmall (pages)";
    case "EIDRM":
      return "The segment has been removed";
    default:
      return undefined;
  }
}

/**
 * A System V shared memory segment (sysvipc(7), shmget(2)): memory named by
 * a numeric key (or private, passed by id), attached with shmat(2) and seen
 * as one `ArrayBuffer`. For programs that already speak System V IPC
 * (PostgreSQL, X11 MIT-SHM, older C code); new code is usually better off
 * with {@linkcode SharedMemory}, which has names and file permissions.
 *
 * Closing detaches (shmdt(2)); the segment lives until
 * {@linkcode SysvSharedMemory.remove} and the last detach, even with no
 * process attached. A temporary segment is removed when its handle closes.
 * Segments are listed in `/proc/sysvipc/shm` (and by `ipcs -m`).
 *
 * @example A private segment, removed when the handle closes
 * ```ts
 * import { SysvSharedMemory } from "@ipckit/ipc/shm";
 *
 * using seg = SysvSharedMemory.temporary({ size: 4096 });
 * new Uint8Array(seg.buffer).fill(1);
 * console.log(seg.attributes.attachCount); // 1
 * ```
 */
export class SysvSharedMemory extends MappedMemory {
  /** The segment id (`shmid`), which any process may attach by. */
  readonly id: number;
  /** The key as an unsigned 32-bit number, or 0 for a private segment. */
  readonly key: number;
  #removeOnClose: boolean;
  #label: string;
  /** Forgets the removal at exit of a temporary segment. */
  #forgetAtExit: (() => void) | undefined;

  private constructor(
    id: number,
    key: number,
    region: Region,
    removeOnClose: boolean,
  ) {
    const label = sysvLabel(key, id);
    super(region, WHAT, label, "shmat");
    this.id = id;
    this.key = key >>> 0;
    this.#removeOnClose = removeOnClose;
    this.#label = label;
    if (removeOnClose) {
      this.#forgetAtExit = removeAtExit(() =>
        libc().shmctl(id, IPC_RMID, null)
      );
    }
  }

  /**
   * Gets (and with `create`, creates) the segment with a key, and attaches
   * it. See shmget(2), shmat(2).
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * using seg = SysvSharedMemory.open(0x1badf00d, { create: true, size: 1024 });
   * seg.view(Int32Array)[0] = 1;
   * seg.remove();
   * ```
   *
   * @param key A 32-bit integer other than 0 (see
   *   {@linkcode SysvSharedMemory.keyFromPath}).
   * @param options Creation flags, size, mode and access.
   * @returns The attached segment.
   * @throws {TypeError} For a key that is not a number, options that are
   *   not an object, an option of the wrong type, an unknown `access`, or
   *   `create` without `size`.
   * @throws {RangeError} For a bad key, size or mode, or a new segment
   *   larger than the machine's memory (RAM + swap, or the memory cgroup's
   *   limit).
   * @throws {IpcError} `ENOENT`, `EEXIST`, `EACCES`, `EINVAL` (size),
   *   `ENOSPC` (shmmni/shmall), `ENOMEM`. A segment this call created is
   *   removed again if attaching it fails.
   */
  static open(
    key: number,
    options?: SysvSharedMemoryOptions,
  ): SysvSharedMemory {
    if (options === undefined) options = {};
    const k = checkSysvKey(key, "SysvSharedMemory.private()");
    const o = checkOptions(options);
    const create = checkBoolean(o.create, "create", false);
    const exclusive = checkBoolean(o.exclusive, "exclusive", false);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode, 0o777);
    const size = o.size === undefined ? undefined : checkSize(o.size);
    const access = checkAccess(o.access, "read-write");
    const failure: IpcErrorOptions = {
      syscall: "shmget",
      path: sysvLabel(k),
      action: `open ${WHAT}`,
    };
    if (create && size === undefined) {
      throw new TypeError(
        `Cannot create ${WHAT} ${sysvLabel(k)} without a size: pass { size }`,
      );
    }
    if (create) checkMemory(size!, 0, WHAT, failure);
    const { handle: id, created } = openOrCreate({
      create,
      exclusive,
      // IPC_EXCL first, so this call knows whether it made the segment.
      tryCreate: () => libc().shmget(k, size!, IPC_CREAT | IPC_EXCL | mode),
      tryOpen: () => libc().shmget(k, size ?? 0, 0),
      failure,
      hint: (code) => hint(code, create),
    });
    try {
      return SysvSharedMemory.#attach(id, k, access, false);
    } catch (error) {
      if (created) libc().shmctl(id, IPC_RMID, null);
      throw error;
    }
  }

  /**
   * Creates a segment without a key (`IPC_PRIVATE`): other processes attach
   * it by {@linkcode SysvSharedMemory.id}. It stays until removed.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * using seg = SysvSharedMemory.private({ size: 64 });
   * console.log(seg.key); // 0
   * seg.remove();
   * ```
   *
   * @param options Size and mode.
   * @returns The attached segment.
   * @throws {TypeError} For options that are not an object, or a size or
   *   mode that is not a number.
   * @throws {RangeError} For a bad size or mode, or a size larger than the
   *   machine's memory.
   * @throws {IpcError} `EINVAL`, `ENOSPC`, `ENOMEM`.
   */
  static private(options: SysvPrivateSharedMemoryOptions): SysvSharedMemory {
    return SysvSharedMemory.#private(options, false);
  }

  /**
   * Like {@linkcode SysvSharedMemory.private}, removed when the handle
   * closes, and
   * when the process ends without closing it too: at its normal end, on
   * `process.exit()`, an uncaught error, or SIGINT/SIGTERM/SIGHUP that the
   * program does not handle itself (see ffi's `removeAtExit()`). SIGKILL
   * leaves it behind: `ipckit ls` lists such objects, `ipckit rm` removes
   * them.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * using seg = SysvSharedMemory.temporary({ size: 64 });
   * console.log(seg.size); // 64
   * ```
   *
   * @param options Size and mode.
   * @returns The attached segment.
   * @throws {TypeError} As {@linkcode SysvSharedMemory.private}.
   * @throws {RangeError} As {@linkcode SysvSharedMemory.private}.
   * @throws {IpcError} As {@linkcode SysvSharedMemory.private}.
   */
  static temporary(options: SysvPrivateSharedMemoryOptions): SysvSharedMemory {
    return SysvSharedMemory.#private(options, true);
  }

  static #private(
    options: SysvPrivateSharedMemoryOptions,
    removeOnClose: boolean,
  ): SysvSharedMemory {
    const o = checkOptions(options);
    const size = checkSize(o.size);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode, 0o777);
    checkMemory(size, 0, WHAT, { syscall: "shmget", action: `create ${WHAT}` });
    const id = sys(
      () => libc().shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | mode),
      { syscall: "shmget", action: `create ${WHAT}` },
      (code) => hint(code, true),
    );
    try {
      return SysvSharedMemory.#attach(
        id,
        IPC_PRIVATE,
        "read-write",
        removeOnClose,
      );
    } catch (error) {
      libc().shmctl(id, IPC_RMID, null);
      throw error;
    }
  }

  /**
   * Attaches a segment by id, as another process learned it.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * using seg = SysvSharedMemory.temporary({ size: 64 });
   * using same = SysvSharedMemory.fromId(seg.id);
   * console.log(same.size); // 64
   * ```
   *
   * @param id The segment id.
   * @param options Access.
   * @returns The attached segment.
   * @throws {TypeError} For an id that is not a number, options that are
   *   not an object, or an unknown `access`.
   * @throws {RangeError} For an id that is not a non-negative integer.
   * @throws {IpcError} `EINVAL` (no such id), `EIDRM`, `EACCES`.
   */
  static fromId(
    id: number,
    options?: Pick<SysvSharedMemoryOptions, "access">,
  ): SysvSharedMemory {
    if (options === undefined) options = {};
    checkInteger(id, "id", 0, 0x7fffffff);
    const access = checkAccess(checkOptions(options).access, "read-write");
    const stat = readStat(id, `id ${id}`, "attach");
    return SysvSharedMemory.#attach(
      id,
      stat.getInt32(SHMID_DS.key, true),
      access,
      false,
      stat,
    );
  }

  static #attach(
    id: number,
    key: number,
    access: "read" | "read-write",
    removeOnClose: boolean,
    stat: DataView = readStat(id, sysvLabel(key, id), "attach"),
  ): SysvSharedMemory {
    const label = sysvLabel(key, id);
    const size = Number(stat.getBigUint64(SHMID_DS.segsz, true));
    const writable = access === "read-write";
    let pointer: Pointer | null;
    for (;;) {
      pointer = libc().shmat(id, null, writable ? 0 : SHM_RDONLY);
      if (!failedPointer(pointer)) break;
      sys(() => -1, {
        syscall: "shmat",
        path: label,
        action: `attach ${WHAT}`,
      });
    }
    return new SysvSharedMemory(
      id,
      key,
      new Region(pointer!, size, writable, "shmdt"),
      removeOnClose,
    );
  }

  /**
   * Marks a segment for removal by id (shmctl(2) `IPC_RMID`): it goes when
   * the last process detaches; no new process can attach by key.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * const seg = SysvSharedMemory.private({ size: 64 });
   * seg.close();
   * SysvSharedMemory.remove(seg.id);
   * ```
   *
   * @param id The segment id.
   * @throws {TypeError} For an id that is not a number.
   * @throws {RangeError} For an id that is not a non-negative integer.
   * @throws {IpcError} `EINVAL` (no such id), `EPERM` (not the owner).
   */
  static remove(id: number): void {
    checkInteger(id, "id", 0, 0x7fffffff);
    sys(
      () => libc().shmctl(id, IPC_RMID, null),
      {
        syscall: "shmctl",
        path: `id ${id}`,
        action: `remove ${WHAT}`,
      },
      (code) =>
        code === "EINVAL"
          ? "No segment has this id (already removed?)"
          : code === "EPERM"
          ? "Only the segment's owner or creator (or a privileged process) may remove it"
          : undefined,
    );
  }

  /**
   * A key from an existing file and a project number, computed as ftok(3)
   * does (glibc): the project's low 8 bits, the device's low 8 bits and
   * the inode's low 16 bits. The file is looked at through libc
   * (`O_PATH`, fstat(2)), so Deno needs only `--allow-ffi`.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * console.log(SysvSharedMemory.keyFromPath("/tmp", 1) > 0); // true
   * ```
   *
   * @param path An existing file or directory.
   * @param projectId 1 to 255.
   * @returns The key, as an unsigned 32-bit number.
   * @throws {TypeError} For a path that is not a non-empty string, or a
   *   project number that is not a number.
   * @throws {RangeError} For a project number outside 1..255.
   * @throws {IpcError} `ENOENT`, `EACCES` when the file cannot be found.
   */
  static keyFromPath(path: string, projectId: number): number {
    return sysvKeyFromPath(path, projectId);
  }

  /**
   * The segment's state (shmctl(2) `IPC_STAT`; needs read permission).
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * using seg = SysvSharedMemory.temporary({ size: 64 });
   * const { size, attachCount } = seg.attributes;
   * console.log(size, attachCount); // 64 1
   * ```
   *
   * @throws {IpcError} `EBADF` when closed, `EIDRM`, `EACCES`.
   */
  get attributes(): SysvSharedMemoryAttributes {
    this.mapping("shmctl");
    const s = readStat(this.id, this.#label, "read attributes of");
    const time = (at: number) => {
      const t = Number(s.getBigInt64(at, true));
      return t === 0 ? undefined : new Date(t * 1000);
    };
    const mode = s.getUint32(SHMID_DS.mode, true);
    return {
      key: s.getUint32(SHMID_DS.key, true),
      size: Number(s.getBigUint64(SHMID_DS.segsz, true)),
      uid: s.getUint32(SHMID_DS.uid, true),
      gid: s.getUint32(SHMID_DS.gid, true),
      creatorUid: s.getUint32(SHMID_DS.cuid, true),
      mode: mode & 0o777,
      attachCount: Number(s.getBigUint64(SHMID_DS.nattch, true)),
      creatorPid: s.getInt32(SHMID_DS.cpid, true),
      lastPid: s.getInt32(SHMID_DS.lpid, true),
      lastAttachTime: time(SHMID_DS.atime),
      lastDetachTime: time(SHMID_DS.dtime),
      changeTime: time(SHMID_DS.ctime) ?? new Date(0),
      removed: (mode & 0o1000) !== 0, // SHM_DEST
    };
  }

  /**
   * Marks this segment for removal (`IPC_RMID`); it goes when the last
   * process detaches. This handle stays attached until `close()`.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * using seg = SysvSharedMemory.private({ size: 64 });
   * seg.remove();
   * console.log(seg.attributes.removed); // true
   * ```
   *
   * @throws {IpcError} `EBADF` when closed, `EINVAL` (already gone),
   *   `EPERM`.
   */
  remove(): void {
    this.mapping("shmctl");
    SysvSharedMemory.remove(this.id);
  }

  /**
   * Detaches the segment (shmdt(2)); the `buffer` and its views are
   * detached too. The segment stays until removed, except a temporary one,
   * which is removed now. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { SysvSharedMemory } from "@ipckit/ipc/shm";
   *
   * const seg = SysvSharedMemory.temporary({ size: 64 });
   * seg.close();
   * seg.close(); // no-op
   * ```
   */
  override close(): void {
    if (!this.releaseMapping()) return;
    if (this.#removeOnClose) {
      this.#forgetAtExit?.();
      libc().shmctl(this.id, IPC_RMID, null);
    }
  }
}

function readStat(id: number, label: string, action: string): DataView {
  const buf = new BigInt64Array(SHMID_DS.size / 8);
  sys(() => libc().shmctl(id, IPC_STAT, buf), {
    syscall: "shmctl",
    path: label,
    action: `${action} ${WHAT}`,
  }, (code) => hint(code, false));
  return new DataView(buf.buffer);
}
