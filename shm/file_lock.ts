import {
  addressOf,
  checkBoolean,
  checkInteger,
  checkMode,
  checkOptions,
  checkSignal,
  checkTimeout,
  cString,
  describeValue,
  errno,
  Handle,
  IpcError,
  type IpcErrorOptions,
  libc,
  parkWithBackoff,
  parkWithBackoffSync,
  sys,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import { checkAccess } from "./_region.ts";
import { FLOCK } from "./_layout.ts";

const O_RDONLY = 0;
const O_ACCMODE = 3;
const F_GETFL = 3;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_OFD_SETLKW = 38;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const SEEK_SET = 0;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EINTR = 4;
const EAGAIN = 11;
const EACCES = 13;
const WHAT = "file lock";

/**
 * Which kernel lock a {@linkcode FileLock} takes:
 * - `"fcntl"`: open-file-description record locks (fcntl(2) `F_OFD_SETLK`),
 *   on a byte range, shared or exclusive. Owned by the open file, not the
 *   process, so two handles in one process exclude each other, and closing
 *   another descriptor of the file does not drop them (unlike classic POSIX
 *   `F_SETLK` locks).
 * - `"flock"`: flock(2) locks on the whole file, shared or exclusive, also
 *   owned by the open file.
 *
 * The two kinds do not see each other: every process sharing a file must
 * use the same one.
 */
export type LockMechanism = "fcntl" | "flock";

/** Options for {@linkcode FileLock.open}. */
export interface FileLockOptions {
  /**
   * Create the file if it does not exist (`O_CREAT`).
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * Permission bits of a new file (before the umask).
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * How the file is opened. `"read"` is enough for shared locks and for
   * `"flock"`; an exclusive `"fcntl"` lock needs `"read-write"`.
   * @default {"read-write"}
   */
  access?: "read" | "read-write" | undefined;
  /**
   * `"fcntl"` (byte ranges) or `"flock"` (whole file).
   * @default {"fcntl"}
   */
  mechanism?: LockMechanism | undefined;
}

/** Which lock to take. */
export interface LockOptions {
  /**
   * An exclusive (write) lock, or a shared (read) one that other shared
   * locks may hold at once.
   * @default {true}
   */
  exclusive?: boolean | undefined;
  /**
   * First byte of the range (`"fcntl"` only).
   * @default {0}
   */
  start?: number | undefined;
  /**
   * Bytes in the range; 0 means "to the end of the file, however long it
   * grows" (`"fcntl"` only).
   * @default {0}
   */
  length?: number | undefined;
}

/** Which lock to take, and how long to wait for it (sync form). */
export interface LockSyncOptions extends LockOptions, WaitSyncOptions {}

/** Which lock to take, and how long to wait for it (async form). */
export interface LockAsyncOptions extends LockOptions, WaitOptions {}

/** A conflicting lock, as fcntl(2) `F_OFD_GETLK` reports it. */
export interface LockHolder {
  /** Whether the conflicting lock is exclusive. */
  exclusive: boolean;
  /** Its first byte. */
  start: number;
  /** Its length (0: to the end of the file). */
  length: number;
}

/**
 * Advisory locks on a file (fcntl(2) open-file-description record locks
 * over a byte range, or flock(2) on the whole file), shared or exclusive:
 * the way to take turns on a file used as a record store, a mapped file or
 * a shared memory object (`FileLock.fromDescriptor(shm.fd)`). Advisory
 * means only processes that also lock are held back. The kernel drops a
 * lock when its file is closed, also when the holder dies, so a crashed
 * holder never leaves a file locked.
 *
 * Each lock comes three ways: `lockSync()` blocks the thread, `lock()`
 * waits without blocking the event loop (retrying with a back-off from 0.1
 * to 5 ms: there is no descriptor to poll for a lock) and honours
 * `timeout` and `signal`, `tryLock()` returns at once. Each returns a
 * {@linkcode FileLockGuard} for `using`. Closing the handle makes a
 * pending `lock()` reject with `EBADF`.
 *
 * @example Taking turns on a record
 * ```ts
 * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
 *
 * // A record store every process maps (a scratch one here).
 * using data = MappedFile.temporary({ size: 4096 });
 * using file = FileLock.open(data.path);
 * {
 *   using _guard = await file.lock({ start: 0, length: 64, timeout: 1000 });
 *   data.write("record 0", 0); // bytes 0..63 are ours until the block ends
 * }
 * ```
 */
export class FileLock extends Handle {
  /** The file's path (or `"fd <n>"` for an adopted descriptor). */
  readonly path: string;
  /** The kind of lock taken. */
  readonly mechanism: LockMechanism;
  #fd: number;
  #owned: boolean;
  #readOnly: boolean;
  #struct = new BigInt64Array(FLOCK.size / 8);
  #bytes = new Uint8Array(this.#struct.buffer);
  #view = new DataView(this.#struct.buffer);
  #guards = new Set<FileLockGuard>();
  #failure: IpcErrorOptions;
  #what: string;

  private constructor(
    path: string,
    fd: number,
    owned: boolean,
    mechanism: LockMechanism,
    readOnly: boolean,
  ) {
    super(WHAT, path);
    this.path = path;
    this.#fd = fd;
    this.#owned = owned;
    this.#readOnly = readOnly;
    this.mechanism = mechanism;
    this.#failure = {
      syscall: mechanism === "fcntl" ? "fcntl" : "flock",
      path,
      action: "lock file",
    };
    this.#what = `a lock on "${path}"`;
  }

  /**
   * Opens a file to lock (open(2)), read-write unless `access: "read"`.
   * Like every other `open()` in ipckit it does not create the file unless
   * asked to (`create: true`, mode `0o600` by default).
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * using file = FileLock.open(data.path, { mechanism: "flock" });
   * using _guard = file.lockSync();
   * ```
   *
   * @param path The file.
   * @param options Creation, access and the lock mechanism.
   * @returns The handle.
   * @throws {TypeError} For a bad path, options that are not an object, an
   *   option of the wrong type, or an unknown mechanism or access.
   * @throws {RangeError} For a bad mode.
   * @throws {IpcError} `ENOENT` (missing, no `create`), `EACCES`, `EISDIR`.
   */
  static open(path: string, options?: FileLockOptions): FileLock {
    if (options === undefined) options = {};
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        `path must be a non-empty string, got ${describeValue(path)}`,
      );
    }
    const o = checkOptions(options);
    const create = checkBoolean(o.create, "create", false);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode);
    const access = checkAccess(o.access, "read-write");
    const mechanism = checkMechanism(o.mechanism);
    const cpath = cString(path);
    // O_NONBLOCK: opening a FIFO (or a device that waits for a carrier)
    // must not block the thread; locks do not care about the flag.
    const flags = (access === "read" ? O_RDONLY : O_RDWR) | O_CLOEXEC |
      O_NONBLOCK | (create ? O_CREAT : 0);
    const fd = sys(
      () => libc().open(cpath, flags, mode),
      { syscall: "open", path, action: "open file to lock" },
      (code) =>
        code === "ENOENT" && !create
          ? "No such file; pass { create: true } to create it"
          : undefined,
    );
    return new FileLock(path, fd, true, mechanism, access === "read");
  }

  /**
   * Locks through a descriptor someone else owns, such as
   * {@linkcode SharedMemory.fd} or {@linkcode MappedFile.fd}. Locks belong
   * to that descriptor's open file; `close()` releases them but leaves the
   * descriptor open.
   *
   * @example Locking a shared memory object
   * ```ts
   * import { FileLock, SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 4096 });
   * using locks = FileLock.fromDescriptor(shm.fd);
   * using _guard = locks.lockSync({ start: 0, length: 64 });
   * ```
   *
   * @param fd The descriptor (open for writing, for exclusive `"fcntl"`
   *   locks: through one open read-only they fail with `EBADF`).
   * @param options The lock mechanism.
   * @returns The handle.
   * @throws {TypeError} For a descriptor that is not a number, options
   *   that are not an object, or an unknown mechanism.
   * @throws {RangeError} For a descriptor that is not a non-negative
   *   integer.
   * @throws {IpcError} `EBADF` for a descriptor that is not open.
   */
  static fromDescriptor(
    fd: number,
    options?: Pick<FileLockOptions, "mechanism">,
  ): FileLock {
    if (options === undefined) options = {};
    checkInteger(fd, "fd", 0, 0x7fffffff);
    const mechanism = checkMechanism(checkOptions(options).mechanism);
    // A descriptor that is not open fails here (EBADF), not at lock time,
    // and one open read-only gets the same check as access: "read".
    const flags = sys(() => libc().fcntl(fd, F_GETFL, 0), {
      syscall: "fcntl",
      path: `fd ${fd}`,
      action: "lock through descriptor",
    });
    const readOnly = (flags & O_ACCMODE) === O_RDONLY;
    return new FileLock(`fd ${fd}`, fd, false, mechanism, readOnly);
  }

  /**
   * The descriptor. Escape hatch: do not close it yourself.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    this.checkOpen("fd");
    return this.#fd;
  }

  #range(options: LockOptions): [boolean, number, number] {
    const exclusive = checkBoolean(options.exclusive, "exclusive", true);
    const offset = (name: "start" | "length"): number => {
      const value = options[name] === undefined ? 0 : options[name];
      if (typeof value !== "number") {
        throw new TypeError(
          `${name} must be an integer, got ${describeValue(value)}`,
        );
      }
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(
          `${name} must be a non-negative integer, got ${value}`,
        );
      }
      return value;
    };
    const start = offset("start");
    const length = offset("length");
    if (this.mechanism === "flock" && (start !== 0 || length !== 0)) {
      throw new TypeError(
        'flock locks the whole file: use { mechanism: "fcntl" } for byte ranges',
      );
    }
    if (exclusive && this.mechanism === "fcntl" && this.#readOnly) {
      throw new IpcError("EBADF", {
        ...this.#failure,
        hint:
          'An exclusive fcntl lock needs the file open for writing; it is open read-only (access: "read", or a descriptor opened O_RDONLY)',
      });
    }
    return [exclusive, start, length];
  }

  #fill(type: number, start: number, length: number): void {
    this.#struct.fill(0n);
    this.#view.setInt16(FLOCK.type, type, true);
    this.#view.setInt16(FLOCK.whence, SEEK_SET, true);
    this.#view.setBigInt64(FLOCK.start, BigInt(start), true);
    this.#view.setBigInt64(FLOCK.len, BigInt(length), true);
    // l_pid must be 0 for open-file-description locks.
  }

  /** One attempt; `true` when locked, `false` when someone holds it. */
  #attempt(
    exclusive: boolean,
    start: number,
    length: number,
    wait: boolean,
  ): boolean {
    const fd = this.#fd;
    for (;;) {
      let r: number;
      if (this.mechanism === "fcntl") {
        this.#fill(exclusive ? F_WRLCK : F_RDLCK, start, length);
        r = libc().fcntl(
          fd,
          wait ? F_OFD_SETLKW : F_OFD_SETLK,
          addressOf(this.#bytes),
        );
      } else {
        r = libc().flock(
          fd,
          (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB),
        );
      }
      if (r !== -1) return true;
      const e = errno();
      if (e === EINTR) continue;
      if (!wait && (e === EAGAIN || e === EACCES)) return false;
      throw new IpcError(e, this.#failure);
    }
  }

  /** The guard of a lock just taken. */
  #guard(exclusive: boolean, start: number, length: number): FileLockGuard {
    const guard = new FileLockGuard(
      exclusive,
      start,
      length,
      () => {
        this.#guards.delete(guard);
        if (!this.closed) this.#unlock(start, length);
      },
    );
    this.#guards.add(guard);
    return guard;
  }

  /** The wait loop's attempt: a guard, or `undefined` while held. */
  #tryGuard(
    exclusive: boolean,
    start: number,
    length: number,
  ): FileLockGuard | undefined {
    return this.#attempt(exclusive, start, length, false)
      ? this.#guard(exclusive, start, length)
      : undefined;
  }

  #unlock(start: number, length: number): void {
    if (this.mechanism === "fcntl") {
      this.#fill(F_UNLCK, start, length);
      sys(
        () => libc().fcntl(this.#fd, F_OFD_SETLK, addressOf(this.#bytes)),
        { ...this.#failure, action: "unlock file" },
      );
    } else {
      sys(() => libc().flock(this.#fd, LOCK_UN), {
        ...this.#failure,
        action: "unlock file",
      });
    }
  }

  /**
   * Takes the lock, blocking the thread (and the event loop) until it is
   * free or the timeout passes. Without a timeout it sleeps in the kernel
   * (`F_OFD_SETLKW`, `flock` without `LOCK_NB`), woken the moment the lock
   * is free; with one it retries with a back-off from 0.1 to 5 ms.
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * using file = FileLock.open(data.path);
   * const guard = file.lockSync({ exclusive: false, start: 128, length: 128 });
   * guard.release();
   * ```
   *
   * @param options Which lock, and `timeout` in ms.
   * @returns The guard; release it (or let `using` do it).
   * @throws {TypeError} For options that are not an object, an option of
   *   the wrong type, or a byte range with `"flock"`.
   * @throws {RangeError} For a negative or non-integer range, or a timeout
   *   that is NaN or negative.
   * @throws {IpcError} `EBADF` when closed (or, for an exclusive `"fcntl"`
   *   lock, a descriptor not open for writing), `EDEADLK`, `ENOLCK`.
   * @throws {DOMException} `TimeoutError` when the lock stayed taken.
   */
  lockSync(options?: LockSyncOptions): FileLockGuard {
    if (options === undefined) options = {};
    this.checkOpen(this.#failure.syscall);
    const o = checkOptions(options);
    const [exclusive, start, length] = this.#range(o);
    const timeout = checkTimeout(o.timeout);
    if (timeout === undefined) {
      this.#attempt(exclusive, start, length, true);
      return this.#guard(exclusive, start, length);
    }
    return waitUntilSync({
      attempt: () => this.#tryGuard(exclusive, start, length),
      park: parkWithBackoffSync(),
      check: () => this.checkOpen(this.#failure.syscall),
      what: this.#what,
    }, { timeout });
  }

  /**
   * Takes the lock without blocking the event loop: tries, then retries
   * with a back-off from 0.1 to 5 ms until it gets the lock, the timeout
   * passes, the signal aborts or the handle closes.
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * using file = FileLock.open(data.path);
   * using _guard = await file.lock({ timeout: 1000 });
   * ```
   *
   * @param options Which lock, `timeout` in ms and `signal`.
   * @returns A promise of the guard.
   * @throws {TypeError} For options that are not an object, an option of
   *   the wrong type, or a byte range with `"flock"`.
   * @throws {RangeError} For a negative or non-integer range, or a timeout
   *   that is NaN or negative.
   * @throws {IpcError} `EBADF` when closed (also while waiting: `close()`
   *   rejects a pending `lock()`), `ENOLCK`.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async lock(options?: LockAsyncOptions): Promise<FileLockGuard> {
    if (options === undefined) options = {};
    this.checkOpen(this.#failure.syscall);
    const o = checkOptions(options);
    const [exclusive, start, length] = this.#range(o);
    const signal = checkSignal(o.signal);
    return await waitUntil({
      attempt: () => this.#tryGuard(exclusive, start, length),
      park: parkWithBackoff(),
      check: () => this.checkOpen(this.#failure.syscall),
      what: this.#what,
      closing: this.closing,
    }, { timeout: o.timeout, signal });
  }

  /**
   * Takes the lock if it is free now.
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * using a = FileLock.open(data.path);
   * using b = FileLock.open(data.path);
   * using _held = a.tryLock();
   * console.log(b.tryLock()); // undefined: a holds it
   * ```
   *
   * @param options Which lock.
   * @returns The guard, or `undefined` when someone else holds the lock.
   * @throws {TypeError} For options that are not an object, an option of
   *   the wrong type, or a byte range with `"flock"`.
   * @throws {RangeError} For a negative or non-integer range.
   * @throws {IpcError} `EBADF` when closed, `ENOLCK`.
   */
  tryLock(options?: LockOptions): FileLockGuard | undefined {
    if (options === undefined) options = {};
    this.checkOpen(this.#failure.syscall);
    const [exclusive, start, length] = this.#range(checkOptions(options));
    return this.#tryGuard(exclusive, start, length);
  }

  /**
   * Who would stop this lock from being taken (fcntl(2) `F_OFD_GETLK`;
   * `"fcntl"` only). Locks of this same handle never conflict. The answer
   * is a snapshot: it may be stale by the time it returns.
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * using a = FileLock.open(data.path);
   * using b = FileLock.open(data.path);
   * using _held = a.lockSync({ start: 10, length: 5, exclusive: false });
   * console.log(b.holder({ start: 0, length: 100 })); // { exclusive: false, start: 10, length: 5 }
   * ```
   *
   * @param options The lock that would be asked for.
   * @returns The conflicting lock, or `undefined` when it could be taken.
   * @throws {TypeError} For the `"flock"` mechanism, options that are not
   *   an object, or an option of the wrong type.
   * @throws {RangeError} For a negative or non-integer range.
   * @throws {IpcError} `EBADF` when closed.
   */
  holder(options?: LockOptions): LockHolder | undefined {
    if (options === undefined) options = {};
    this.checkOpen("fcntl");
    if (this.mechanism !== "fcntl") {
      throw new TypeError('holder() needs the "fcntl" mechanism');
    }
    const o = checkOptions(options);
    // F_OFD_GETLK needs no write access: on a read-only file, ask what
    // stops a shared lock.
    const [exclusive, start, length] = this.#range(
      this.#readOnly ? { ...o, exclusive: false } : o,
    );
    this.#fill(exclusive ? F_WRLCK : F_RDLCK, start, length);
    sys(
      () => libc().fcntl(this.#fd, F_OFD_GETLK, addressOf(this.#bytes)),
      { ...this.#failure, action: "query lock on file" },
    );
    const type = this.#view.getInt16(FLOCK.type, true);
    if (type === F_UNLCK) return undefined;
    return {
      exclusive: type === F_WRLCK,
      start: Number(this.#view.getBigInt64(FLOCK.start, true)),
      length: Number(this.#view.getBigInt64(FLOCK.len, true)),
    };
  }

  /**
   * Releases every lock this handle holds and closes the file (an adopted
   * descriptor stays open); a pending `lock()` rejects with `EBADF`.
   * Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * const file = FileLock.open(data.path);
   * file.lockSync();
   * file.close(); // the lock goes with the file
   * file.close(); // no-op
   * ```
   */
  override close(): void {
    super.close();
  }

  /**
   * Called once by `close()`: unlocks what an adopted descriptor holds
   * (its file stays open), or closes the file, which drops its locks.
   */
  protected release(): void {
    const guards = [...this.#guards];
    this.#guards.clear();
    if (!this.#owned) {
      for (const guard of guards) {
        try {
          this.#unlock(guard.start, guard.length);
        } catch { /* the descriptor is the owner's; nothing more to do */ }
      }
    }
    for (const guard of guards) guard.release(); // marks them released
    if (this.#owned) libc().close(this.#fd);
  }
}

function checkMechanism(mechanism: unknown): LockMechanism {
  if (mechanism === undefined) return "fcntl";
  if (mechanism !== "fcntl" && mechanism !== "flock") {
    throw new TypeError(
      `mechanism must be "fcntl" or "flock", got ${describeValue(mechanism)}`,
    );
  }
  return mechanism;
}

/**
 * A held lock, from {@linkcode FileLock.lock} and friends. Release it once,
 * or let `using` do it; releasing twice, or after the `FileLock` closed,
 * does nothing.
 *
 * @example
 * ```ts
 * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
 *
 * using data = MappedFile.temporary({ size: 4096 });
 * using file = FileLock.open(data.path);
 * const guard = file.lockSync({ length: 10 });
 * console.log(guard.exclusive, guard.length); // true 10
 * guard.release();
 * ```
 */
export class FileLockGuard implements Disposable {
  /** Whether the lock is exclusive. */
  readonly exclusive: boolean;
  /** First byte of the range. */
  readonly start: number;
  /** Bytes in the range (0: to the end of the file). */
  readonly length: number;
  #release: (() => void) | undefined;

  /**
   * Made by {@linkcode FileLock}; not for direct use.
   *
   * @param exclusive Whether the lock is exclusive.
   * @param start First byte.
   * @param length Bytes (0: to the end).
   * @param release What releasing does.
   */
  constructor(
    exclusive: boolean,
    start: number,
    length: number,
    release: () => void,
  ) {
    this.exclusive = exclusive;
    this.start = start;
    this.length = length;
    this.#release = release;
  }

  /** Whether {@linkcode FileLockGuard.release} has been called. */
  get released(): boolean {
    return this.#release === undefined;
  }

  /**
   * Releases the lock (for `"fcntl"`, its byte range).
   *
   * @example
   * ```ts
   * import { FileLock, MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 4096 });
   * using file = FileLock.open(data.path);
   * const guard = file.lockSync();
   * guard.release();
   * guard.release(); // no-op
   * ```
   *
   * @throws {IpcError} When the unlock call fails (`ENOLCK`).
   */
  release(): void {
    const release = this.#release;
    if (release === undefined) return;
    this.#release = undefined;
    release();
  }

  /** Same as {@linkcode FileLockGuard.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }
}
