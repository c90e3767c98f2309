import {
  addressOf,
  checkOptions,
  checkSignal,
  checkSpin,
  checkTimeout,
  Handle,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import { GUARDS, LockWord, type OwnerDied } from "./_mutex_core.ts";
import { checkRegion, memoryGoneError, threadId } from "./_shared.ts";

/** What a guard needs from its mutex, made once per Mutex. */
interface MutexInternals {
  readonly lock: LockWord;
  check(): void;
  relock(): Promise<OwnerDied>;
  relockSync(): OwnerDied;
}

/**
 * Options for {@linkcode Mutex.lockSync}.
 * @deprecated Use {@linkcode WaitSyncOptions} (the same shape).
 */
export type MutexLockSyncOptions = WaitSyncOptions;

/** Options for {@linkcode Mutex.init} and {@linkcode Mutex.at}. */
export interface MutexOptions {
  /**
   * Microseconds `lock()` and `lockSync()` retry (yielding the CPU) before
   * they sleep, 0 to 1,000,000. Spins only when the process may run on
   * more than one CPU. 0 turns it off.
   * @default {20}
   */
  spin?: number | undefined;
}

/**
 * Proof of holding a {@linkcode Mutex}: unlocks when disposed, so
 * `using guard = await mutex.lock()` unlocks at the end of the block.
 *
 * @example
 * ```ts
 * import { Mutex } from "@ipckit/ipc/sem";
 *
 * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
 * {
 *   using guard = mutex.lockSync();
 *   console.log(guard.ownerDied); // false
 * }
 * console.log(mutex.owner); // 0: unlocked
 * ```
 */
export class MutexGuard implements Disposable {
  #mutex: Mutex;
  #internals: MutexInternals;
  #held = true;
  #ownerDied: boolean;

  static {
    GUARDS.link = (guard) => {
      if (!(guard instanceof MutexGuard)) return undefined;
      const g = guard;
      const internals = g.#internals;
      return {
        lock: internals.lock,
        held: () => g.#held,
        lost: () => g.#held = false,
        check: internals.check,
        relock: async () => {
          if (await internals.relock()) g.#ownerDied = true;
        },
        relockSync: () => {
          if (internals.relockSync()) g.#ownerDied = true;
        },
      };
    };
  }

  /** @internal Made by {@linkcode Mutex} when it locks. */
  constructor(mutex: Mutex, internals: MutexInternals, ownerDied: boolean) {
    this.#mutex = mutex;
    this.#internals = internals;
    this.#ownerDied = ownerDied;
  }

  /**
   * `true` when the previous owner died holding the lock and this lock took
   * it over: the data it protects may be half-updated, so check or rebuild
   * it before trusting it (what `EOWNERDEAD` means for a robust pthread
   * mutex).
   */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /** The mutex this guard holds. */
  get mutex(): Mutex {
    return this.#mutex;
  }

  /** Whether the guard still holds the lock. */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Unlocks the mutex; unlocking twice does nothing.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * const guard = mutex.lockSync();
   * guard.unlock();
   * guard.unlock(); // no-op
   * ```
   *
   * When this thread no longer holds the lock (it was unlocked through
   * {@linkcode Mutex.unlock}), or the mutex's memory is gone, it does
   * nothing either.
   */
  unlock(): void {
    if (!this.#held) return;
    this.#held = false;
    const lock = this.#internals.lock;
    if (lock.gone) return;
    if (lock.owner() === threadId()) lock.unlock();
  }

  /** Same as {@linkcode MutexGuard.unlock}, for `using`. */
  [Symbol.dispose](): void {
    this.unlock();
  }
}

/**
 * A mutual-exclusion lock shared by every process (and thread) that maps
 * the same memory, built on a futex word (futex(2)) plus a word naming the
 * owner's PID namespace: 8 bytes at an offset that is a multiple of 8.
 * The futex word is 0 when free, else the owner's thread id (gettid(2))
 * plus a bit that says someone sleeps on it. Locking and unlocking without
 * contention are a few atomic instructions, no syscall.
 *
 * Robust: a waiter that sleeps 100 ms without a wake-up checks whether the
 * owner thread still exists (kill(2) with signal 0, and `/proc/TID/stat`
 * for a zombie its parent has not reaped yet, read through libc). If it is
 * gone, the waiter takes the lock over and its guard says
 * {@linkcode MutexGuard.ownerDied}: the protected data may need repair.
 * An owner in another PID namespace (a container sharing `/dev/shm`) is
 * never declared dead: its thread id means nothing here, so a waiter that
 * would have taken over fails with `ENOTRECOVERABLE` instead. Limits:
 * thread ids are reused (a new thread that gets the dead owner's id before
 * anyone notices keeps the lock held until timeouts fire); a thread that
 * is alive but stuck is not dead.
 *
 * Fair enough: a waiter that has waited 2 ms marks the lock, and the next
 * unlock hands it to a sleeper instead of letting a fast re-locker (such as
 * a `lockSync()` loop in another process) take it again at once.
 *
 * Lock ownership is per thread, so `lockSync()` by the holder fails with
 * `EDEADLK` instead of hanging, while async `lock()` calls of one thread
 * queue behind each other like calls from different processes.
 *
 * @example Counting under the lock
 * ```ts
 * import { Mutex } from "@ipckit/ipc/sem";
 *
 * const memory = new SharedArrayBuffer(12); // a MAP_SHARED mapping across processes
 * using mutex = Mutex.init(memory, 0);
 * const counter = new Int32Array(memory, Mutex.byteLength, 1);
 * {
 *   using _guard = await mutex.lock({ timeout: 1000 });
 *   counter[0]++;
 * }
 * console.log(counter[0]); // 1
 * ```
 */
export class Mutex extends Handle {
  /** Bytes a mutex takes in shared memory (two 32-bit words). */
  static readonly byteLength: number = 8;
  #lock: LockWord;

  private constructor(
    buffer: ArrayBufferLike,
    byteOffset: unknown,
    options: MutexOptions | undefined,
  ) {
    super("mutex");
    const spin = checkSpin(checkOptions(options).spin, 20);
    checkRegion(buffer, byteOffset, 8, 8, "mutex");
    this.#lock = new LockWord(buffer, byteOffset as number, spin);
    if (addressOf(this.#lock.word) % 8 !== 0) {
      throw new RangeError("A mutex needs an 8-byte aligned address");
    }
  }

  /**
   * Makes a new, unlocked mutex at `byteOffset` of `buffer` (it writes
   * zeros there). Do it once, before other processes use it; they attach
   * with {@linkcode Mutex.at}. Memory that is zero-filled (new shared
   * memory) already holds an unlocked mutex.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(16), 8);
   * console.log(mutex.tryLock() !== undefined); // true
   * ```
   *
   * @param buffer The shared memory (an ArrayBuffer over a `MAP_SHARED`
   *   mapping to reach other processes).
   * @param byteOffset Where the mutex starts; a multiple of 8.
   * @param options How long to spin before sleeping.
   * @returns A handle on the mutex.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer, or an argument has the wrong type.
   * @throws {RangeError} For a misaligned or out-of-range offset, or a bad
   *   spin.
   */
  static init(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    options?: MutexOptions,
  ): Mutex {
    const mutex = new Mutex(buffer, byteOffset, options);
    mutex.#lock.reset();
    return mutex;
  }

  /**
   * A handle on a mutex at `byteOffset` of memory that another process
   * (or {@linkcode Mutex.init}) set up; its state is left as it is.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(8);
   * using a = Mutex.init(memory, 0);
   * using b = Mutex.at(memory, 0, { spin: 0 });
   * using _guard = a.lockSync();
   * console.log(b.owner > 0); // true: b sees a's lock
   * ```
   *
   * @param buffer The shared memory.
   * @param byteOffset Where the mutex starts; a multiple of 8.
   * @param options How long to spin before sleeping.
   * @returns A handle on the mutex.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer, or an argument has the wrong type.
   * @throws {RangeError} For a misaligned or out-of-range offset, or a bad
   *   spin.
   */
  static at(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    options?: MutexOptions,
  ): Mutex {
    return new Mutex(buffer, byteOffset, options);
  }

  /** The lock word, once the handle is open and its memory still there. */
  #word(syscall = "futex"): LockWord {
    this.checkOpen(syscall);
    if (this.#lock.gone) throw memoryGoneError("mutex", syscall);
    return this.#lock;
  }

  #check = (): void => {
    this.#word();
  };

  #internals: MutexInternals | undefined;

  #guard(lock: LockWord, died: OwnerDied): MutexGuard {
    this.#internals ??= {
      lock,
      check: this.#check,
      relock: () =>
        waitUntil(lock.loop(this.#check, this.closing, () => this.closed)),
      relockSync: () => waitUntilSync(lock.loopSync(this.#check)),
    };
    return new MutexGuard(this, this.#internals, died);
  }

  /**
   * The thread id (gettid(2)) of the holder, 0 when unlocked; a snapshot.
   * In a single-threaded process the thread id is the process id (in the
   * holder's PID namespace).
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * console.log(mutex.owner); // 0
   * ```
   *
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   */
  get owner(): number {
    return this.#word().owner();
  }

  /**
   * Whether the calling thread holds the lock.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * using _guard = mutex.lockSync();
   * console.log(mutex.heldByMe); // true
   * ```
   *
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   */
  get heldByMe(): boolean {
    return this.#word().owner() === threadId();
  }

  /**
   * Locks, blocking the thread (and the event loop) while another holds
   * the lock: spins briefly, then sleeps in futex(2), checking every 100 ms
   * whether the owner died.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * using guard = mutex.lockSync({ timeout: 1000 });
   * if (guard.ownerDied) console.log("repair the shared data");
   * ```
   *
   * @param options `timeout` in milliseconds (any length; `Infinity` or
   *   none waits forever).
   * @returns The guard; dispose it (or call `unlock()`) to unlock.
   * @throws {TypeError} For a timeout that is not a number.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EDEADLK` when this thread holds it already,
   *   `ENOTRECOVERABLE` when its owner in another PID namespace looks dead
   *   here, `EBADF` when closed or its memory is gone.
   * @throws {DOMException} `TimeoutError` when it stayed locked.
   */
  lockSync(options?: WaitSyncOptions): MutexGuard {
    const timeout = checkTimeout(checkOptions(options).timeout);
    const lock = this.#word();
    // Uncontended: no wait loop is built.
    if (lock.lockFast()) return this.#guard(lock, false);
    const died = waitUntilSync(lock.loopSync(this.#check), { timeout });
    return this.#guard(lock, died);
  }

  /**
   * Locks without blocking the event loop: spins briefly, then waits on the
   * futex word in ipckit's futex helper thread, checking every 100 ms
   * whether the owner died. Calls from one thread queue behind each other.
   * Closing the handle rejects a pending call with `EBADF` (it never
   * resolves holding the lock after that).
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * const first = await mutex.lock();
   * const second = mutex.lock({ timeout: 1000 }); // waits for first
   * first.unlock();
   * using _guard = await second;
   * ```
   *
   * @param options `timeout` (ms, any length) and `signal`.
   * @returns The guard; dispose it (or call `unlock()`) to unlock.
   * @throws {TypeError} For a timeout or signal of the wrong type.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EBADF` when closed, also while waiting;
   *   `ENOTRECOVERABLE` when its owner in another PID namespace looks dead
   *   here.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async lock(options?: WaitOptions): Promise<MutexGuard> {
    const o = checkOptions(options);
    const timeout = checkTimeout(o.timeout);
    const signal = checkSignal(o.signal);
    const lock = this.#word();
    signal?.throwIfAborted();
    // Uncontended: no wait loop is built.
    if (lock.lockFast()) return this.#guard(lock, false);
    const died = await waitUntil(
      lock.loop(this.#check, this.closing, () => this.closed),
      { timeout, signal },
    );
    if (this.closed) {
      // Closed between the acquisition and now: the caller never sees
      // this lock, so give it back.
      if (!lock.gone) lock.unlock();
      throw this.closedError("futex");
    }
    return this.#guard(lock, died);
  }

  /**
   * Locks if the mutex is free (or its owner is dead), without waiting.
   * An owner of another PID namespace is never taken over: `undefined`.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * using guard = mutex.tryLock();
   * console.log(guard !== undefined); // true
   * console.log(mutex.tryLock()); // undefined: held
   * ```
   *
   * @returns The guard, or `undefined` when a live thread holds it.
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   */
  tryLock(): MutexGuard | undefined {
    const lock = this.#word();
    const died = lock.tryLock();
    return died === undefined ? undefined : this.#guard(lock, died);
  }

  /**
   * Unlocks without a guard (prefer disposing the guard). Only the holding
   * thread may unlock.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * mutex.lockSync();
   * mutex.unlock();
   * console.log(mutex.owner); // 0
   * ```
   *
   * @throws {IpcError} `EPERM` when this thread does not hold it, `EBADF`
   *   when closed or its memory is gone.
   */
  unlock(): void {
    this.#word().unlock();
  }

  /**
   * Makes the handle unusable; pending `lock()` calls reject with `EBADF`.
   * The lock word stays as it is (a held lock stays held); the memory is the
   * caller's. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * const mutex = Mutex.init(new SharedArrayBuffer(8), 0);
   * mutex.close();
   * mutex.close(); // no-op
   * ```
   */
  override close(): void {
    super.close();
  }

  /** Nothing to release: the memory is the caller's. */
  protected release(): void {}
}
