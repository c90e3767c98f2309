import { addressOf, closedError, type WaitOptions } from "../ffi/mod.ts";
import { GUARDS, LockWord, OWNER } from "./_mutex_core.ts";
import { checkRegion, checkTimeout, threadId } from "./_shared.ts";

/** Options for {@linkcode Mutex.lockSync}. */
export interface MutexLockSyncOptions {
  /**
   * Milliseconds to wait at most; `undefined` waits forever.
   * @default {undefined}
   */
  timeout?: number;
}

/**
 * Proof of holding a {@linkcode Mutex}: unlocks when disposed, so
 * `using guard = await mutex.lock()` unlocks at the end of the block.
 *
 * @example
 * ```ts
 * import { Mutex } from "@ipckit/ipc/sem";
 *
 * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
 * {
 *   using guard = mutex.lockSync();
 *   console.log(guard.ownerDied); // false
 * }
 * console.log(mutex.owner); // 0: unlocked
 * ```
 */
export class MutexGuard implements Disposable {
  #mutex: Mutex;
  #lock: LockWord;
  #held = true;
  #ownerDied: boolean;

  /** @internal Made by {@linkcode Mutex} when it locks. */
  constructor(mutex: Mutex, lock: LockWord, ownerDied: boolean) {
    this.#mutex = mutex;
    this.#lock = lock;
    this.#ownerDied = ownerDied;
    GUARDS.set(this, {
      lock,
      held: () => this.#held,
      ownerDied: () => this.#ownerDied = true,
    });
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
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * const guard = mutex.lockSync();
   * guard.unlock();
   * guard.unlock(); // no-op
   * ```
   *
   * When this thread no longer holds the lock (it was unlocked through
   * {@linkcode Mutex.unlock}), it does nothing either.
   */
  unlock(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.#lock.owner() === threadId()) this.#lock.unlock();
  }

  /** Same as {@linkcode MutexGuard.unlock}, for `using`. */
  [Symbol.dispose](): void {
    this.unlock();
  }
}

/**
 * A mutual-exclusion lock shared by every process (and thread) that maps
 * the same memory, built on one 32-bit futex word (futex(2)): 0 when free,
 * else the owner's thread id (gettid(2)) plus a bit that says someone
 * sleeps on it. Locking and unlocking without contention are one atomic
 * instruction each, no syscall.
 *
 * Robust: a waiter that sleeps 100 ms without a wake-up checks whether the
 * owner thread still exists (kill(2) with signal 0, and /proc for a zombie
 * its parent has not reaped yet). If it is gone, the waiter takes the lock
 * over and its guard says {@linkcode MutexGuard.ownerDied}: the protected
 * data may need repair. Limits: thread ids are reused (a new thread that
 * gets the dead owner's id before anyone notices keeps the lock held until
 * timeouts fire); all processes must share one PID namespace; a thread
 * that is alive but stuck is not dead. In Deno, reading /proc needs
 * `--allow-read` (without it a zombie owner is noticed only once reaped).
 *
 * Lock ownership is per thread, so `lockSync()` by the holder fails with
 * `EDEADLK` instead of hanging, while async `lock()` calls of one thread
 * queue behind each other like calls from different processes.
 *
 * @example Counting under the lock
 * ```ts
 * import { Mutex } from "@ipckit/ipc/sem";
 *
 * const memory = new SharedArrayBuffer(8); // a MAP_SHARED mapping across processes
 * using mutex = Mutex.init(memory, 0);
 * const counter = new Int32Array(memory, 4, 1);
 * {
 *   using _guard = await mutex.lock({ timeout: 1000 });
 *   counter[0]++;
 * }
 * console.log(counter[0]); // 1
 * ```
 */
export class Mutex implements Disposable {
  /** Bytes a mutex takes in shared memory (one 32-bit word). */
  static readonly byteLength: number = 4;
  #lock: LockWord | undefined;
  /** Aborted by close(): pending lock() calls reject with EBADF. */
  #closing = new AbortController();

  private constructor(buffer: ArrayBufferLike, byteOffset: number) {
    checkRegion(buffer, byteOffset, 4, 4, "mutex");
    const word = new Int32Array(buffer, byteOffset, 1);
    if (addressOf(word) % 4 !== 0) {
      throw new RangeError("A mutex needs a 4-byte aligned address");
    }
    this.#lock = new LockWord(word, "mutex");
  }

  /**
   * Makes a new, unlocked mutex at `byteOffset` of `buffer` (it writes 0
   * there). Do it once, before other processes use it; they attach with
   * {@linkcode Mutex.at}. Memory that is zero-filled (new shared memory)
   * already holds an unlocked mutex.
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
   * @param byteOffset Where the mutex starts; a multiple of 4.
   * @returns A handle on the mutex.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer.
   * @throws {RangeError} For a misaligned or out-of-range offset.
   */
  static init(buffer: ArrayBufferLike, byteOffset = 0): Mutex {
    const mutex = new Mutex(buffer, byteOffset);
    Atomics.store(mutex.#lock!.word, 0, 0);
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
   * const memory = new SharedArrayBuffer(4);
   * using a = Mutex.init(memory, 0);
   * using b = Mutex.at(memory, 0);
   * using _guard = a.lockSync();
   * console.log(b.owner > 0); // true: b sees a's lock
   * ```
   *
   * @param buffer The shared memory.
   * @param byteOffset Where the mutex starts; a multiple of 4.
   * @returns A handle on the mutex.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer.
   * @throws {RangeError} For a misaligned or out-of-range offset.
   */
  static at(buffer: ArrayBufferLike, byteOffset = 0): Mutex {
    return new Mutex(buffer, byteOffset);
  }

  #check(): LockWord {
    if (this.#lock === undefined) {
      throw closedError("mutex", undefined, "futex");
    }
    return this.#lock;
  }

  /** Whether {@linkcode Mutex.close} has been called. */
  get closed(): boolean {
    return this.#lock === undefined;
  }

  /**
   * The thread id (gettid(2)) of the holder, 0 when unlocked; a snapshot.
   * In a single-threaded process the thread id is the process id.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * console.log(mutex.owner); // 0
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get owner(): number {
    return this.#check().owner() & OWNER;
  }

  /**
   * Whether the calling thread holds the lock.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * using _guard = mutex.lockSync();
   * console.log(mutex.heldByMe); // true
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get heldByMe(): boolean {
    return this.#check().owner() === threadId();
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
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * using guard = mutex.lockSync({ timeout: 1000 });
   * if (guard.ownerDied) console.log("repair the shared data");
   * ```
   *
   * @param options `timeout` in milliseconds.
   * @returns The guard; dispose it (or call `unlock()`) to unlock.
   * @throws {RangeError} For a negative timeout.
   * @throws {IpcError} `EDEADLK` when this thread holds it already,
   *   `EBADF` when closed.
   * @throws {DOMException} `TimeoutError` when it stayed locked.
   */
  lockSync(options: MutexLockSyncOptions = {}): MutexGuard {
    const lock = this.#check();
    checkTimeout(options.timeout);
    return new MutexGuard(this, lock, lock.lockSync(options.timeout));
  }

  /**
   * Locks without blocking the event loop: spins briefly, then waits on the
   * futex word in ipckit's futex helper thread, checking every 100 ms
   * whether the owner died. Calls from one thread queue behind each other.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * const first = await mutex.lock();
   * const second = mutex.lock({ timeout: 1000 }); // waits for first
   * first.unlock();
   * using _guard = await second;
   * ```
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns The guard; dispose it (or call `unlock()`) to unlock.
   * @throws {RangeError} For a negative timeout.
   * @throws {IpcError} `EBADF` when closed, also while waiting.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async lock(options: WaitOptions = {}): Promise<MutexGuard> {
    const lock = this.#check();
    checkTimeout(options.timeout);
    const signal = options.signal === undefined
      ? this.#closing.signal
      : AbortSignal.any([options.signal, this.#closing.signal]);
    const died = await lock.lock(options.timeout, signal);
    return new MutexGuard(this, lock, died);
  }

  /**
   * Locks if the mutex is free (or its owner is dead), without waiting.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * using guard = mutex.tryLock();
   * console.log(guard !== undefined); // true
   * console.log(mutex.tryLock()); // undefined: held
   * ```
   *
   * @returns The guard, or `undefined` when a live thread holds it.
   * @throws {IpcError} `EBADF` when closed.
   */
  tryLock(): MutexGuard | undefined {
    const lock = this.#check();
    const died = lock.tryAcquire(true);
    return died === undefined ? undefined : new MutexGuard(this, lock, died);
  }

  /**
   * Unlocks without a guard (prefer disposing the guard). Only the holding
   * thread may unlock.
   *
   * @example
   * ```ts
   * import { Mutex } from "@ipckit/ipc/sem";
   *
   * using mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * mutex.lockSync();
   * mutex.unlock();
   * console.log(mutex.owner); // 0
   * ```
   *
   * @throws {IpcError} `EPERM` when this thread does not hold it, `EBADF`
   *   when closed.
   */
  unlock(): void {
    this.#check().unlock();
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
   * const mutex = Mutex.init(new SharedArrayBuffer(4), 0);
   * mutex.close();
   * mutex.close(); // no-op
   * ```
   */
  close(): void {
    if (this.#lock === undefined) return;
    this.#lock = undefined;
    this.#closing.abort(closedError("mutex", undefined, "futex"));
  }

  /** Same as {@linkcode Mutex.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
