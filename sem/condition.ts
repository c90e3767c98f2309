import {
  closedError,
  futexWait,
  futexWaitSync,
  futexWake,
  IpcError,
  type WaitOptions,
} from "../ffi/mod.ts";
import { type GuardLink, GUARDS } from "./_mutex_core.ts";
import { checkRegion, checkTimeout, isOwnTimeout } from "./_shared.ts";
import type { MutexGuard } from "./mutex.ts";

/** Options for {@linkcode Condition.waitSync}. */
export interface ConditionWaitSyncOptions {
  /**
   * Milliseconds to wait at most; `undefined` waits until notified.
   * @default {undefined}
   */
  timeout?: number;
}

/**
 * A condition variable in shared memory, used with a {@linkcode Mutex}:
 * wait (releasing the mutex) until another thread or process changes the
 * protected data and calls {@linkcode Condition.notify}. Two 32-bit words:
 * a sequence number that every notify bumps (the futex word) and a count of
 * sleepers, so notifying nobody costs no syscall.
 *
 * Wake-ups may be spurious and a notify may come before the wait: always
 * wait in a loop that re-checks the data, under the mutex.
 *
 * @example Waiting for a flag
 * ```ts
 * import { Condition, Mutex } from "@ipckit/ipc/sem";
 *
 * const memory = new SharedArrayBuffer(16);
 * using mutex = Mutex.init(memory, 0);
 * using changed = Condition.init(memory, 4);
 * const flag = new Int32Array(memory, 12, 1);
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
export class Condition implements Disposable {
  /** Bytes a condition takes in shared memory (two 32-bit words). */
  static readonly byteLength: number = 8;
  #words: Int32Array | undefined; // [0] sequence, [1] sleepers

  private constructor(buffer: ArrayBufferLike, byteOffset: number) {
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
   *   SharedArrayBuffer.
   * @throws {RangeError} For a misaligned or out-of-range offset.
   */
  static init(buffer: ArrayBufferLike, byteOffset = 0): Condition {
    const c = new Condition(buffer, byteOffset);
    Atomics.store(c.#words!, 0, 0);
    Atomics.store(c.#words!, 1, 0);
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
   *   SharedArrayBuffer.
   * @throws {RangeError} For a misaligned or out-of-range offset.
   */
  static at(buffer: ArrayBufferLike, byteOffset = 0): Condition {
    return new Condition(buffer, byteOffset);
  }

  #check(syscall: string): Int32Array {
    if (this.#words === undefined) {
      throw closedError("condition", undefined, syscall);
    }
    return this.#words;
  }

  #link(guard: MutexGuard): GuardLink {
    const link = GUARDS.get(guard);
    if (link === undefined || !link.held()) {
      throw new IpcError("EPERM", {
        syscall: "futex",
        action: "wait on condition",
        hint: "Pass the guard of a mutex this thread holds",
      });
    }
    return link;
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
   * const memory = new SharedArrayBuffer(12);
   * using mutex = Mutex.init(memory, 0);
   * using c = Condition.init(memory, 4);
   * using guard = mutex.lockSync();
   * console.log(c.waitSync(guard, { timeout: 10 })); // false: timed out
   * ```
   *
   * @param guard The guard of the mutex protecting the data (held).
   * @param options `timeout` in milliseconds.
   * @returns `false` when the timeout passed, `true` otherwise (notified,
   *   or a spurious wake-up).
   * @throws {IpcError} `EPERM` when the guard no longer holds its mutex,
   *   `EBADF` when closed.
   */
  waitSync(guard: MutexGuard, options: ConditionWaitSyncOptions = {}): boolean {
    const words = this.#check("futex");
    const link = this.#link(guard);
    checkTimeout(options.timeout);
    const seq = Atomics.load(words, 0);
    Atomics.add(words, 1, 1);
    link.lock.unlock();
    let result;
    try {
      result = futexWaitSync(words, 0, seq, options.timeout);
    } finally {
      Atomics.sub(words, 1, 1);
      if (link.lock.lockSync(undefined)) link.ownerDied();
    }
    return result !== "timed-out";
  }

  /**
   * Releases the guard's mutex, waits until notified without blocking the
   * event loop, and locks the mutex again before settling (also when it
   * rejects). If the re-lock took over from a dead owner, `guard.ownerDied`
   * turns `true`.
   *
   * @example
   * ```ts
   * import { Condition, Mutex } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(12);
   * using mutex = Mutex.init(memory, 0);
   * using c = Condition.init(memory, 4);
   * using guard = await mutex.lock();
   * setTimeout(() => c.notify(), 10);
   * console.log(await c.wait(guard, { timeout: 1000 })); // true
   * ```
   *
   * @param guard The guard of the mutex protecting the data (held).
   * @param options `timeout` (ms) and `signal`.
   * @returns `false` when the timeout passed, `true` otherwise.
   * @throws {IpcError} `EPERM` when the guard no longer holds its mutex,
   *   `EBADF` when closed.
   * @throws {DOMException} The signal's reason when aborted (after the
   *   mutex is locked again).
   */
  async wait(guard: MutexGuard, options: WaitOptions = {}): Promise<boolean> {
    const words = this.#check("futex");
    const link = this.#link(guard);
    const { timeout, signal } = options;
    checkTimeout(timeout);
    signal?.throwIfAborted();
    const seq = Atomics.load(words, 0);
    Atomics.add(words, 1, 1);
    link.lock.unlock();
    let woken = true;
    try {
      await futexWait(words, 0, seq, { timeout, signal });
    } catch (error) {
      if (!isOwnTimeout(error, signal)) throw error;
      woken = false;
    } finally {
      Atomics.sub(words, 1, 1);
      if (await link.lock.lock(undefined, undefined)) link.ownerDied();
    }
    return woken;
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
    const words = this.#check("futex");
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
   * Makes the handle unusable; the memory is the caller's. Closing twice
   * does nothing.
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
  close(): void {
    this.#words = undefined;
  }

  /** Same as {@linkcode Condition.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
