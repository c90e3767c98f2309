import {
  addressOf,
  closedError,
  cString,
  errno,
  IpcError,
  type IpcErrorOptions,
  libc,
  pause,
  pauseSync,
  sys,
  type WaitOptions,
} from "../ffi/mod.ts";
import { checkMode } from "./_region.ts";
import { FLOCK } from "./_layout.ts";

const O_RDWR = 2;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
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
/** Back-off between non-blocking attempts: first and longest pause, ms. */
const FIRST_PAUSE = 0.5;
const LONGEST_PAUSE = 20;
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
   * Create the file if it does not exist.
   * @default {true}
   */
  create?: boolean;
  /**
   * Permission bits of a new file (before the umask).
   * @default {0o644}
   */
  mode?: number;
  /**
   * `"fcntl"` (byte ranges) or `"flock"` (whole file).
   * @default {"fcntl"}
   */
  mechanism?: LockMechanism;
}

/** Which lock to take. */
export interface LockOptions {
  /**
   * An exclusive (write) lock, or a shared (read) one that other shared
   * locks may hold at once.
   * @default {true}
   */
  exclusive?: boolean;
  /**
   * First byte of the range (`"fcntl"` only).
   * @default {0}
   */
  start?: number;
  /**
   * Bytes in the range; 0 means "to the end of the file, however long it
   * grows" (`"fcntl"` only).
   * @default {0}
   */
  length?: number;
}

/** Which lock to take, and how long to wait for it (sync form). */
export interface LockSyncOptions extends LockOptions {
  /**
   * Milliseconds to wait at most; `undefined` waits forever.
   * @default {undefined}
   */
  timeout?: number;
}

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

function timeoutError(ms: number, path: string): DOMException {
  return new DOMException(
    `Timed out after ${ms} ms waiting for a lock on "${path}"`,
    "TimeoutError",
  );
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
 * waits without blocking the event loop (retrying with a short back-off:
 * there is no descriptor to poll for a lock) and honours `timeout` and
 * `signal`, `tryLock()` returns at once. Each returns a
 * {@linkcode FileLockGuard} for `using`.
 *
 * @example Taking turns on a record
 * ```ts
 * import { FileLock } from "@ipckit/ipc/shm";
 *
 * const path = await Deno.makeTempFile();
 * using file = FileLock.open(path);
 * {
 *   using _guard = await file.lock({ start: 0, length: 64, timeout: 1000 });
 *   // ... read and write bytes 0..63 ...
 * }
 * await Deno.remove(path);
 * ```
 */
export class FileLock implements Disposable {
  /** The file's path (or `"fd <n>"` for an adopted descriptor). */
  readonly path: string;
  /** The kind of lock taken. */
  readonly mechanism: LockMechanism;
  #fd: number;
  #owned: boolean;
  #struct = new BigInt64Array(FLOCK.size / 8);
  #bytes = new Uint8Array(this.#struct.buffer);
  #view = new DataView(this.#struct.buffer);
  #guards = new Set<FileLockGuard>();
  #failure: IpcErrorOptions;

  private constructor(
    path: string,
    fd: number,
    owned: boolean,
    mechanism: LockMechanism,
  ) {
    this.path = path;
    this.#fd = fd;
    this.#owned = owned;
    this.mechanism = mechanism;
    this.#failure = {
      syscall: mechanism === "fcntl" ? "fcntl" : "flock",
      path,
      action: "lock file",
    };
  }

  /**
   * Opens (by default creating) a file to lock, read-write (open(2)).
   *
   * @example
   * ```ts
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using file = FileLock.open(path, { mechanism: "flock" });
   * using _guard = file.lockSync();
   * await Deno.remove(path);
   * ```
   *
   * @param path The file.
   * @param options Creation and the lock mechanism.
   * @returns The handle.
   * @throws {TypeError} For a bad path or mechanism.
   * @throws {RangeError} For a bad mode.
   * @throws {IpcError} `ENOENT`, `EACCES`, `EISDIR`.
   */
  static open(path: string, options: FileLockOptions = {}): FileLock {
    if (typeof path !== "string" || path === "") {
      throw new TypeError("A path must be a non-empty string");
    }
    const { create = true, mode = 0o644, mechanism = "fcntl" } = options;
    checkMechanism(mechanism);
    checkMode(mode);
    const cpath = cString(path);
    const fd = sys(
      () =>
        libc().open(cpath, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), mode),
      { syscall: "open", path, action: "open file to lock" },
    );
    return new FileLock(path, fd, true, mechanism);
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
   *   locks).
   * @param options The lock mechanism.
   * @returns The handle.
   * @throws {RangeError} For a descriptor that is not a non-negative
   *   integer.
   */
  static fromDescriptor(
    fd: number,
    options: Pick<FileLockOptions, "mechanism"> = {},
  ): FileLock {
    if (!Number.isInteger(fd) || fd < 0) {
      throw new RangeError(`fd must be a non-negative integer, got ${fd}`);
    }
    const mechanism = options.mechanism ?? "fcntl";
    checkMechanism(mechanism);
    return new FileLock(`fd ${fd}`, fd, false, mechanism);
  }

  /** Whether {@linkcode FileLock.close} has been called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * The descriptor. Escape hatch: do not close it yourself.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    return this.#check("fd");
  }

  #check(syscall: string): number {
    if (this.#fd < 0) throw closedError(WHAT, this.path, syscall);
    return this.#fd;
  }

  #range(options: LockOptions): [boolean, number, number] {
    const { exclusive = true, start = 0, length = 0 } = options;
    if (typeof exclusive !== "boolean") {
      throw new TypeError(`exclusive must be a boolean, got ${exclusive}`);
    }
    for (const [name, value] of [["start", start], ["length", length]]) {
      if (
        typeof value !== "number" || !Number.isSafeInteger(value) || value < 0
      ) {
        throw new RangeError(
          `${name} must be a non-negative integer, got ${String(value)}`,
        );
      }
    }
    if (this.mechanism === "flock" && (start !== 0 || length !== 0)) {
      throw new TypeError(
        'flock locks the whole file: use { mechanism: "fcntl" } for byte ranges',
      );
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

  #guard(exclusive: boolean, start: number, length: number): FileLockGuard {
    const guard = new FileLockGuard(
      exclusive,
      start,
      length,
      () => {
        this.#guards.delete(guard);
        if (this.#fd >= 0) this.#unlock(start, length);
      },
    );
    this.#guards.add(guard);
    return guard;
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
   * (`F_OFD_SETLKW`, `flock` without `LOCK_NB`); with one it retries with
   * a short back-off.
   *
   * @example
   * ```ts
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using file = FileLock.open(path);
   * const guard = file.lockSync({ exclusive: false, start: 128, length: 128 });
   * guard.release();
   * await Deno.remove(path);
   * ```
   *
   * @param options Which lock, and `timeout` in ms.
   * @returns The guard; release it (or let `using` do it).
   * @throws {TypeError} For a byte range with `"flock"`.
   * @throws {RangeError} For a negative or non-integer range.
   * @throws {IpcError} `EBADF` when closed (or, for an exclusive `"fcntl"`
   *   lock, a descriptor not open for writing), `EDEADLK`, `ENOLCK`.
   * @throws {DOMException} `TimeoutError` when the lock stayed taken.
   */
  lockSync(options: LockSyncOptions = {}): FileLockGuard {
    this.#check(this.#failure.syscall);
    const [exclusive, start, length] = this.#range(options);
    const { timeout } = options;
    if (timeout === undefined) {
      this.#attempt(exclusive, start, length, true);
      return this.#guard(exclusive, start, length);
    }
    const deadline = performance.now() + timeout;
    let delay = FIRST_PAUSE;
    while (!this.#attempt(exclusive, start, length, false)) {
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout, this.path);
      pauseSync(Math.min(delay, left));
      delay = Math.min(delay * 2, LONGEST_PAUSE);
    }
    return this.#guard(exclusive, start, length);
  }

  /**
   * Takes the lock without blocking the event loop: tries, then retries
   * with a back-off from 0.5 to 20 ms until it gets the lock, the timeout
   * passes or the signal aborts.
   *
   * @example
   * ```ts
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using file = FileLock.open(path);
   * using _guard = await file.lock({ timeout: 1000 });
   * await Deno.remove(path);
   * ```
   *
   * @param options Which lock, `timeout` in ms and `signal`.
   * @returns A promise of the guard.
   * @throws {TypeError} For a byte range with `"flock"`.
   * @throws {RangeError} For a negative or non-integer range.
   * @throws {IpcError} `EBADF` when closed (also while waiting), `ENOLCK`.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async lock(options: LockAsyncOptions = {}): Promise<FileLockGuard> {
    this.#check(this.#failure.syscall);
    const [exclusive, start, length] = this.#range(options);
    const { timeout, signal } = options;
    signal?.throwIfAborted();
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    let delay = FIRST_PAUSE;
    for (;;) {
      this.#check(this.#failure.syscall);
      if (this.#attempt(exclusive, start, length, false)) {
        return this.#guard(exclusive, start, length);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout!, this.path);
      await pause(Math.min(delay, left), signal);
      delay = Math.min(delay * 2, LONGEST_PAUSE);
    }
  }

  /**
   * Takes the lock if it is free now.
   *
   * @example
   * ```ts
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using a = FileLock.open(path);
   * using b = FileLock.open(path);
   * using _held = a.tryLock();
   * console.log(b.tryLock()); // undefined: a holds it
   * await Deno.remove(path);
   * ```
   *
   * @param options Which lock.
   * @returns The guard, or `undefined` when someone else holds the lock.
   * @throws {TypeError} For a byte range with `"flock"`.
   * @throws {RangeError} For a negative or non-integer range.
   * @throws {IpcError} `EBADF` when closed, `ENOLCK`.
   */
  tryLock(options: LockOptions = {}): FileLockGuard | undefined {
    this.#check(this.#failure.syscall);
    const [exclusive, start, length] = this.#range(options);
    return this.#attempt(exclusive, start, length, false)
      ? this.#guard(exclusive, start, length)
      : undefined;
  }

  /**
   * Who would stop this lock from being taken (fcntl(2) `F_OFD_GETLK`;
   * `"fcntl"` only). Locks of this same handle never conflict. The answer
   * is a snapshot: it may be stale by the time it returns.
   *
   * @example
   * ```ts
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using a = FileLock.open(path);
   * using b = FileLock.open(path);
   * using _held = a.lockSync({ start: 10, length: 5, exclusive: false });
   * console.log(b.holder({ start: 0, length: 100 })); // { exclusive: false, start: 10, length: 5 }
   * await Deno.remove(path);
   * ```
   *
   * @param options The lock that would be asked for.
   * @returns The conflicting lock, or `undefined` when it could be taken.
   * @throws {TypeError} For the `"flock"` mechanism.
   * @throws {IpcError} `EBADF` when closed.
   */
  holder(options: LockOptions = {}): LockHolder | undefined {
    this.#check("fcntl");
    if (this.mechanism !== "fcntl") {
      throw new TypeError('holder() needs the "fcntl" mechanism');
    }
    const [exclusive, start, length] = this.#range(options);
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
   * descriptor stays open). Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * const file = FileLock.open(path);
   * file.lockSync();
   * file.close(); // the lock goes with the file
   * file.close(); // no-op
   * await Deno.remove(path);
   * ```
   */
  close(): void {
    if (this.#fd < 0) return;
    if (!this.#owned) {
      for (const guard of [...this.#guards]) guard.release();
    }
    this.#guards.clear();
    if (this.#owned) libc().close(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@linkcode FileLock.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function checkMechanism(mechanism: unknown): void {
  if (mechanism !== "fcntl" && mechanism !== "flock") {
    throw new TypeError(
      `mechanism must be "fcntl" or "flock", got ${String(mechanism)}`,
    );
  }
}

/**
 * A held lock, from {@linkcode FileLock.lock} and friends. Release it once,
 * or let `using` do it; releasing twice, or after the `FileLock` closed,
 * does nothing.
 *
 * @example
 * ```ts
 * import { FileLock } from "@ipckit/ipc/shm";
 *
 * const path = await Deno.makeTempFile();
 * using file = FileLock.open(path);
 * const guard = file.lockSync({ length: 10 });
 * console.log(guard.exclusive, guard.length); // true 10
 * guard.release();
 * await Deno.remove(path);
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
   * import { FileLock } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using file = FileLock.open(path);
   * const guard = file.lockSync();
   * guard.release();
   * guard.release(); // no-op
   * await Deno.remove(path);
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
