import {
  checkOptions,
  checkSignal,
  checkTimeout,
  futexWait,
  futexWaitSync,
  futexWake,
  Handle,
  IpcError,
  isTimeoutError,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import { type GuardLink, GUARDS } from "./_mutex_core.ts";
import { checkRegion, memoryGoneError } from "./_shared.ts";
import type { MutexGuard } from "./mutex.ts";

const NO_WORDS = new Int32Array(0);

/**
 * Options for {@linkcode Condition.waitSync}.
 * @deprecated Use {@linkcode WaitSyncOptions} (the same shape).
 */
export type ConditionWaitSyncOptions = WaitSyncOptions;

/**
 * A condition variable in shared memory, used with a {@linkcode Mutex}:
 * wait (releasing the mutex) until another thread or process changes the
 * protected data and calls {@linkcode Condition.notify}. Two 32-bit words
 * at an offset that is a multiple of 4: a sequence number that every
 * notify bumps (the futex word) and a count of sleepers, so notifying
 * nobody costs no syscall.
 *
 * Wake-ups may be spurious and a notify may come before the wait: always
 * wait in a loop that re-checks the data, under the mutex.
 *
 * @example Waiting for a flag
 * ```ts
 * import { Condition, Mutex } from "@ipckit/ipc/sem";
 *
 * const memory = new SharedArrayBuffer(20);
 * using mutex = Mutex.init(memory, 0); // bytes 0-7
 * using changed = Condition.init(memory, 8); // bytes 8-15
 * const flag = new Int32Array(memory, 16, 1);
 * setTimeout(() => {
 *   using _guard = mutex.lockSync();
 *   flag[0] = 1;
 *   changed.notifyAll();
 * }, 10);
 * using guard = await mutex.lock();
 * while (flag[0] === 0) await changed.wait(guard, { timeout: 1000 });
 * console.log(flag[0]); // 1
 * ```
 */
export class Condition extends Handle {
  /** Bytes a condition takes in shared memory (two 32-bit words). */
  static readonly byteLength: number = 8;
  #words: Int32Array; // [0] sequence, [1] sleepers
  /** Pending waits counted as sleepers (close() takes them back). */
  #counted = new Set<object>();

  private constructor(buffer: ArrayBufferLike, byteOffset: number) {
    super("condition");
    checkRegion(buffer, byteOffset, 8, 4, "condition");
    this.#words = new Int32Array(buffer, byteOffset, 2);
  }

  /**
   * Makes a new condition at `byteOffset` of `buffer` (writes zeros there);
   * zero-filled memory already holds one. Other processes attach with
   * {@linkcode Condition.at}.
   *
   * @example
   * ```ts
   * import { Condition } from "@ipckit/ipc/sem";
   *
   * using c = Condition.init(new SharedArrayBuffer(8), 0);
   * console.log(c.notify()); // 0: nobody waits
   * ```
   *
   * @param buffer The shared memory.
   * @param byteOffset Where it starts; a multiple of 4.
   * @returns A handle on the condition.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer, or the offset is not a number.
   * @throws {RangeError} For a misaligned or out-of-range offset.
   */
  static init(buffer: ArrayBufferLike, byteOffset = 0): Condition {
    const c = new Condition(buffer, byteOffset);
    Atomics.store(c.#words, 0, 0);
    Atomics.store(c.#words, 1, 0);
    return c;
  }

  /**
   * A handle on a condition another process set up at `byteOffset`.
   *
   * @example
   * ```ts
   * import { Condition } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(8);
   * using _made = Condition.init(memory, 0);
   * using c = Condition.at(memory, 0);
   * c.notifyAll();
   * ```
   *
   * @param buffer The shared memory.
   * @param byteOffset Where it starts; a multiple of 4.
   * @returns A handle on the condition.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer, or the offset is not a number.
   * @throws {RangeError} For a misaligned or out-of-range offset.
   */
  static at(buffer: ArrayBufferLike, byteOffset = 0): Condition {
    return new Condition(buffer, byteOffset);
  }

  /** The words, once the handle is open and its memory still there. */
  #words_(syscall: string): Int32Array {
    this.checkOpen(syscall);
    if (this.#words.length === 0) throw memoryGoneError("condition", syscall);
    return this.#words;
  }

  #link(guard: MutexGuard): GuardLink {
    const link = GUARDS.link(guard);
    if (link === undefined || !link.held()) {
      throw new IpcError("EPERM", {
        syscall: "futex",
        action: "wait on condition",
        hint: "Pass the guard of a mutex this thread holds",
      });
    }
    link.check();
    return link;
  }

  /**
   * Counts a sleeper and unlocks the guard's mutex; when unlocking fails
   * (EPERM: this thread no longer holds it) the count is taken back.
   */
  #sleep(words: Int32Array, link: GuardLink, token: object): number {
    const seq = Atomics.load(words, 0);
    Atomics.add(words, 1, 1);
    this.#counted.add(token);
    try {
      link.lock.unlock();
    } catch (error) {
      this.#wake(token);
      throw error;
    }
    return seq;
  }

  /** Takes a sleeper's count back, unless close() did. */
  #wake(token: object): void {
    if (this.#counted.delete(token) && this.#words.length !== 0) {
      Atomics.sub(this.#words, 1, 1);
    }
  }

  /**
   * Releases the guard's mutex, sleeps until notified (or the timeout), and
   * locks the mutex again before returning, blocking the thread (and the
   * event loop) throughout. If the re-lock took over from a dead owner,
   * `guard.ownerDied` turns `true`.
   *
   * @example
   * ```ts
   * import { Condition, Mutex } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(16);
   * using mutex = Mutex.init(memory, 0);
   * using c = Condition.init(memory, 8);
   * using guard = mutex.lockSync();
   * console.log(c.waitSync(guard, { timeout: 10 })); // false: timed out
   * ```
   *
   * @param guard The guard of the mutex protecting the data (held).
   * @param options `timeout` in milliseconds (any length).
   * @returns `false` when the timeout passed, `true` otherwise (notified,
   *   or a spurious wake-up).
   * @throws {TypeError} For a timeout that is not a number.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EPERM` when the guard no longer holds its mutex,
   *   `EBADF` when closed or its memory is gone.
   */
  waitSync(guard: MutexGuard, options?: WaitSyncOptions): boolean {
    const timeout = checkTimeout(checkOptions(options).timeout);
    const words = this.#words_("futex");
    const link = this.#link(guard);
    const token = {};
    const seq = this.#sleep(words, link, token);
    let woken = false;
    try {
      waitUntilSync({
        attempt: () => woken || Atomics.load(words, 0) !== seq || undefined,
        park: (left) => {
          const r = futexWaitSync(
            words,
            0,
            seq,
            left === Infinity ? undefined : left,
          );
          if (r === "ok") woken = true;
        },
        what: "condition",
      }, { timeout });
      return true;
    } catch (error) {
      if (isTimeoutError(error)) return false;
      throw error;
    } finally {
      this.#wake(token);
      this.#relockSync(link);
    }
  }

  #relockSync(link: GuardLink): void {
    try {
      link.relockSync();
    } catch (error) {
      link.lost();
      throw error;
    }
  }

  /**
   * Releases the guard's mutex, waits until notified without blocking the
   * event loop, and locks the mutex again before settling (also when it
   * rejects). If the re-lock took over from a dead owner, `guard.ownerDied`
   * turns `true`. Closing the condition rejects a pending wait with
   * `EBADF` (after the mutex is locked again).
   *
   * @example
   * ```ts
   * import { Condition, Mutex } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(16);
   * using mutex = Mutex.init(memory, 0);
   * using c = Condition.init(memory, 8);
   * using guard = await mutex.lock();
   * setTimeout(() => c.notify(), 10);
   * console.log(await c.wait(guard, { timeout: 1000 })); // true
   * ```
   *
   * @param guard The guard of the mutex protecting the data (held).
   * @param options `timeout` (ms, any length) and `signal`.
   * @returns `false` when the timeout passed, `true` otherwise.
   * @throws {TypeError} For a timeout or signal of the wrong type.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EPERM` when the guard no longer holds its mutex,
   *   `EBADF` when closed (also while waiting) or its memory is gone.
   * @throws {DOMException} The signal's reason when aborted (after the
   *   mutex is locked again).
   */
  async wait(guard: MutexGuard, options?: WaitOptions): Promise<boolean> {
    const o = checkOptions(options);
    const signal = checkSignal(o.signal);
    checkTimeout(o.timeout);
    const words = this.#words_("futex");
    const link = this.#link(guard);
    signal?.throwIfAborted();
    const token = {};
    const seq = this.#sleep(words, link, token);
    let woken = false;
    try {
      await waitUntil<true>({
        attempt: () => woken || Atomics.load(words, 0) !== seq || undefined,
        park: (_left, stop) =>
          futexWait(words, 0, seq, { signal: stop }).then((r) => {
            if (r === "ok") woken = true;
          }),
        check: () => void this.#words_("futex"),
        what: "condition",
        closing: this.closing,
      }, { timeout: o.timeout, signal });
      return true;
    } catch (error) {
      if (isTimeoutError(error) && !signal?.aborted) return false;
      throw error;
    } finally {
      this.#wake(token);
      try {
        await link.relock();
      } catch (error) {
        link.lost();
        // deno-lint-ignore no-unsafe-finally
        throw error;
      }
    }
  }

  /**
   * Wakes up to `count` waiters (in any process).
   *
   * @example
   * ```ts
   * import { Condition } from "@ipckit/ipc/sem";
   *
   * using c = Condition.init(new SharedArrayBuffer(8), 0);
   * c.notify(1);
   * ```
   *
   * @param count How many to wake at most.
   * @returns How many were woken.
   * @throws {RangeError} For a count below 1.
   * @throws {IpcError} `EBADF` when closed.
   */
  notify(count = 1): number {
    const words = this.#words_("futex");
    if (typeof count !== "number") {
      throw new TypeError(`count must be a number, got ${typeof count}`);
    }
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`count must be a positive integer, got ${count}`);
    }
    Atomics.add(words, 0, 1);
    if (Atomics.load(words, 1) === 0) return 0;
    return futexWake(words, 0, Math.min(count, 0x7fffffff));
  }

  /**
   * Wakes every waiter.
   *
   * @example
   * ```ts
   * import { Condition } from "@ipckit/ipc/sem";
   *
   * using c = Condition.init(new SharedArrayBuffer(8), 0);
   * c.notifyAll();
   * ```
   *
   * @returns How many were woken.
   * @throws {IpcError} `EBADF` when closed.
   */
  notifyAll(): number {
    return this.notify(0x7fffffff);
  }

  /**
   * Makes the handle unusable; pending `wait()` calls reject with `EBADF`
   * (once they have locked their mutex again). The memory is the caller's.
   * Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { Condition } from "@ipckit/ipc/sem";
   *
   * const c = Condition.init(new SharedArrayBuffer(8), 0);
   * c.close();
   * c.close(); // no-op
   * ```
   */
  override close(): void {
    super.close();
  }

  /** Takes the pending waits' sleeper counts back; forgets the memory. */
  protected release(): void {
    if (this.#words.length !== 0) {
      for (const _ of this.#counted) Atomics.sub(this.#words, 1, 1);
    }
    this.#counted.clear();
    this.#words = NO_WORDS;
  }
}
