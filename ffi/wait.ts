// The one wait path every module uses: try, spin, park, then timeout or
// abort; after every await the handle is checked again before its memory or
// descriptor is touched. Modules supply the attempt and what to park on.
import { libc } from "./_libc.ts";
import { cpuCount } from "./platform.ts";
import {
  checkOptions,
  checkSignal,
  checkSpin,
  checkTimeout,
} from "./validate.ts";
import { pollDescriptorSync } from "./poll.ts";
import { type Readiness, waitForDescriptor } from "./reactor.ts";
import { futexWait, futexWaitSync } from "./futex.ts";
import { pause, pauseSync, startTimer } from "./pause.ts";

/** Options for waits that may be cancelled. */
export interface WaitOptions {
  /** Cancels the wait; it rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Gives up after this many milliseconds, rejecting with a `TimeoutError`
   * `DOMException`.
   * @default {no limit}
   */
  timeout?: number | undefined;
}

/** Options for blocking waits. */
export interface WaitSyncOptions {
  /**
   * Gives up after this many milliseconds (monotonic clock), throwing a
   * `TimeoutError` `DOMException`.
   * @default {no limit}
   */
  timeout?: number | undefined;
}

/**
 * The `TimeoutError` every wait in ipckit rejects with.
 *
 * @example
 * ```ts
 * import { timeoutError } from "@ipckit/ipc/ffi";
 *
 * console.log(timeoutError(100, 'message queue "/jobs"').message);
 * // Timed out after 100 ms waiting for message queue "/jobs"
 * ```
 *
 * @param ms The timeout that passed.
 * @param what What was waited on.
 * @returns The error.
 */
export function timeoutError(ms: number, what: string): DOMException {
  return new DOMException(
    `Timed out after ${ms} ms waiting for ${what}`,
    "TimeoutError",
  );
}

/**
 * Whether `error` is a `TimeoutError` (ipckit's own, or `AbortSignal.timeout`'s).
 *
 * @example
 * ```ts
 * import { isTimeoutError, timeoutError } from "@ipckit/ipc/ffi";
 *
 * console.log(isTimeoutError(timeoutError(5, "x"))); // true
 * ```
 *
 * @param error Anything thrown.
 * @returns `true` for a `TimeoutError` `DOMException`.
 */
export function isTimeoutError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/** What to park on between attempts, given what is left and a signal. */
export type Park = (left: number, signal: AbortSignal) => Promise<unknown>;

/** What to block on between attempts, given the milliseconds left. */
export type ParkSync = (left: number) => unknown;

/** One wait: the attempt, what to park on, and the handle's checks. */
export interface WaitLoop<T> {
  /** One non-blocking try: the result, or `undefined` when it would block. */
  attempt(): T | undefined;
  /** Waits for a chance that the next attempt succeeds. */
  park: Park;
  /** Throws (EBADF) when the handle was closed; runs after every await. */
  check(): void;
  /** What is waited on, for the timeout message (`semaphore "/slots"`). */
  what: string;
  /** Microseconds to retry (yielding the CPU) before parking. @default {0} */
  spin?: number | undefined;
  /** Aborts when the handle closes: a pending wait then fails with `check()`. */
  closing?: AbortSignal | undefined;
  /** Runs before the first park (to count a waiter, say). */
  enter?: (() => void) | undefined;
  /** Runs once after the last park, whatever the outcome. */
  leave?: (() => void) | undefined;
}

/** One blocking wait: the attempt and what to block on. */
export interface WaitLoopSync<T> {
  /** One non-blocking try: the result, or `undefined` when it would block. */
  attempt(): T | undefined;
  /** Blocks until the next attempt may succeed or `left` ms have passed. */
  park: ParkSync;
  /** Throws when the handle was closed; runs before each retry. */
  check?(): void;
  /** What is waited on, for the timeout message. */
  what: string;
  /** Microseconds to retry (yielding the CPU) before blocking. @default {0} */
  spin?: number | undefined;
  /** Runs before the first block (to count a waiter, say). */
  enter?: (() => void) | undefined;
  /** Runs once after the last block, whatever the outcome. */
  leave?: (() => void) | undefined;
}

const CPUS_FOR_SPIN = 2;

/**
 * Retries `attempt` for `spinUs` µs, yielding between tries. On one CPU
 * (or pinned to one) spinning cannot help, but one try after giving the
 * CPU away can: a peer on this CPU about to answer gets to, and its answer
 * is read without parking (the park's wake-up costs more than a round trip).
 */
function spin<T>(attempt: () => T | undefined, spinUs: number, until: number) {
  if (spinUs <= 0) return undefined;
  if (cpuCount() < CPUS_FOR_SPIN) {
    libc().sched_yield();
    return attempt();
  }
  const end = Math.min(performance.now() + spinUs / 1000, until);
  while (performance.now() < end) {
    libc().sched_yield(); // a peer on this same CPU gets to run
    const result = attempt();
    if (result !== undefined) return result;
  }
  return undefined;
}

/**
 * Waits without blocking the event loop: tries, spins for `loop.spin` µs,
 * then parks and retries until the attempt succeeds, the timeout passes,
 * the signal aborts or the handle closes. Validates `timeout` and `spin`.
 *
 * @example Waiting for an eventfd to be signalled
 * ```ts
 * import { libc, parkOnDescriptor, trySys, waitUntil } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(0, 0x80800); // EFD_CLOEXEC | EFD_NONBLOCK
 * const counter = new BigUint64Array(1);
 * setTimeout(() => libc().write(fd, new BigUint64Array([1n]), 8), 10);
 * const n = await waitUntil({
 *   attempt: () => trySys(() => libc().read(fd, counter, 8), { syscall: "read" }),
 *   park: parkOnDescriptor(fd, "read"),
 *   check: () => {},
 *   what: "eventfd",
 * }, { timeout: 1000 });
 * console.log(n); // 8
 * libc().close(fd);
 * ```
 *
 * @param loop The attempt, what to park on and the handle's checks.
 * @param options `timeout` (ms) and `signal`.
 * @returns What the successful attempt returned.
 * @throws {DOMException} `TimeoutError`, or the signal's reason.
 * @throws {IpcError} What `check()` throws once the handle closed, or what
 *   the attempt or the park threw.
 */
export async function waitUntil<T>(
  loop: WaitLoop<T>,
  options?: WaitOptions,
): Promise<T> {
  if (options === undefined) options = {};
  const o = checkOptions(options);
  const timeout = checkTimeout(o.timeout);
  const spinUs = checkSpin(loop.spin, 0);
  const signal = checkSignal(o.signal);
  loop.check();
  signal?.throwIfAborted();
  const deadline = timeout === undefined
    ? Infinity
    : performance.now() + timeout;
  let result = loop.attempt();
  if (result !== undefined) return result;
  result = spin(() => loop.attempt(), spinUs, deadline);
  if (result !== undefined) return result;

  // One controller for the whole wait: abort, close and timeout all stop
  // the park in progress. Listeners are removed at the end (no
  // AbortSignal.any, which keeps them alive in Deno).
  const stop = new AbortController();
  let timedOut = false;
  const onAbort = () => stop.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  loop.closing?.addEventListener("abort", onAbort, { once: true });
  const cancelTimer = startTimer(deadline - performance.now(), () => {
    timedOut = true;
    stop.abort();
  });
  let entered = false;
  try {
    loop.enter?.();
    entered = true;
    for (;;) {
      if (timedOut || performance.now() >= deadline) {
        throw timeoutError(timeout!, loop.what);
      }
      try {
        await loop.park(deadline - performance.now(), stop.signal);
      } catch (error) {
        loop.check();
        if (signal?.aborted) throw signal.reason;
        if (timedOut) throw timeoutError(timeout!, loop.what);
        throw error;
      }
      loop.check();
      if (signal?.aborted) throw signal.reason;
      result = loop.attempt();
      if (result !== undefined) return result;
    }
  } finally {
    cancelTimer();
    signal?.removeEventListener("abort", onAbort);
    loop.closing?.removeEventListener("abort", onAbort);
    if (entered) loop.leave?.();
  }
}

/**
 * Waits blocking the thread (and the event loop): tries, then blocks on
 * `loop.park` and retries until the attempt succeeds or the timeout
 * (monotonic clock) passes, spinning for `loop.spin` µs first. Validates
 * the options, `timeout` and `spin`.
 *
 * @example
 * ```ts
 * import { libc, parkOnDescriptorSync, trySys, waitUntilSync } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(1, 0x80800);
 * const counter = new BigUint64Array(1);
 * const n = waitUntilSync({
 *   attempt: () => trySys(() => libc().read(fd, counter, 8), { syscall: "read" }),
 *   park: parkOnDescriptorSync(fd, "read"),
 *   what: "eventfd",
 * }, { timeout: 1000 });
 * console.log(n); // 8
 * libc().close(fd);
 * ```
 *
 * @param loop The attempt and what to block on.
 * @param options `timeout` in ms.
 * @returns What the successful attempt returned.
 * @throws {DOMException} `TimeoutError` when the timeout passed.
 */
export function waitUntilSync<T>(
  loop: WaitLoopSync<T>,
  options?: WaitSyncOptions,
): T {
  if (options === undefined) options = {};
  const timeout = checkTimeout(checkOptions(options).timeout);
  const spinUs = checkSpin(loop.spin, 0);
  const deadline = timeout === undefined
    ? Infinity
    : performance.now() + timeout;
  loop.check?.();
  let result = loop.attempt();
  if (result !== undefined) return result;
  result = spin(() => loop.attempt(), spinUs, deadline);
  if (result !== undefined) return result;
  let entered = false;
  try {
    loop.enter?.();
    entered = true;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout!, loop.what);
      loop.park(left);
      loop.check?.();
      result = loop.attempt();
      if (result !== undefined) return result;
    }
  } finally {
    if (entered) loop.leave?.();
  }
}

/**
 * Parks until a descriptor is ready (through the reactor).
 *
 * @example
 * ```ts
 * import { parkOnDescriptor } from "@ipckit/ipc/ffi";
 *
 * const park = parkOnDescriptor(0, "read");
 * console.log(typeof park); // "function"
 * ```
 *
 * @param fd The descriptor, or a function that returns it (and throws
 *   when the handle closed).
 * @param kind `"read"` or `"write"`.
 * @returns The park function for {@linkcode waitUntil}.
 */
export function parkOnDescriptor(
  fd: number | (() => number),
  kind: Readiness,
): Park {
  return (_left, signal) =>
    waitForDescriptor(typeof fd === "number" ? fd : fd(), kind, { signal });
}

/**
 * Blocks until a descriptor is ready (poll(2)).
 *
 * @example
 * ```ts
 * import { parkOnDescriptorSync } from "@ipckit/ipc/ffi";
 *
 * console.log(typeof parkOnDescriptorSync(0, "read")); // "function"
 * ```
 *
 * @param fd The descriptor.
 * @param kind `"read"` or `"write"`.
 * @returns The park function for {@linkcode waitUntilSync}.
 */
export function parkOnDescriptorSync(fd: number, kind: Readiness): ParkSync {
  return (left) => pollDescriptorSync(fd, kind, left);
}

/**
 * Parks while `word[index]` still holds `expected()` (a futex wait).
 *
 * @example
 * ```ts
 * import { parkOnFutex } from "@ipckit/ipc/ffi";
 *
 * const word = new Int32Array(new SharedArrayBuffer(4));
 * console.log(typeof parkOnFutex(() => word, 0, () => 0)); // "function"
 * ```
 *
 * @param word The shared word's view, or a function returning it (which
 *   throws when the memory is gone).
 * @param index The element.
 * @param expected The value to sleep on, read afresh before each park.
 * @returns The park function for {@linkcode waitUntil}.
 */
export function parkOnFutex(
  word: Int32Array | (() => Int32Array),
  index: number,
  expected: () => number,
): Park {
  return (_left, signal) =>
    futexWait(
      typeof word === "function" ? word() : word,
      index,
      expected(),
      { signal },
    );
}

/**
 * Blocks while `word[index]` still holds `expected()` (a futex wait).
 *
 * @example
 * ```ts
 * import { parkOnFutexSync } from "@ipckit/ipc/ffi";
 *
 * const word = new Int32Array(new SharedArrayBuffer(4));
 * console.log(typeof parkOnFutexSync(word, 0, () => 0)); // "function"
 * ```
 *
 * @param word The shared word's view.
 * @param index The element.
 * @param expected The value to sleep on, read afresh before each park.
 * @returns The park function for {@linkcode waitUntilSync}.
 */
export function parkOnFutexSync(
  word: Int32Array,
  index: number,
  expected: () => number,
): ParkSync {
  return (left) => futexWaitSync(word, index, expected(), left);
}

/** The shortest and longest pause of a back-off, in milliseconds. */
const FIRST_PAUSE_MS = 0.1;
const LONGEST_PAUSE_MS = 5;

/**
 * Parks for a pause that doubles from 0.1 to 5 ms: for objects the kernel
 * cannot wait on asynchronously (System V queues and semaphores, file
 * locks). Make one per wait.
 *
 * @example
 * ```ts
 * import { parkWithBackoff } from "@ipckit/ipc/ffi";
 *
 * await parkWithBackoff()(10, AbortSignal.timeout(1000));
 * ```
 *
 * @returns The park function for {@linkcode waitUntil}.
 */
export function parkWithBackoff(): Park {
  let ms = FIRST_PAUSE_MS;
  return (left, signal) => {
    const wait = Math.min(ms, left);
    ms = Math.min(ms * 2, LONGEST_PAUSE_MS);
    return pause(wait, signal);
  };
}

/**
 * Blocks for a pause that doubles from 0.1 to 5 ms (see
 * {@linkcode parkWithBackoff}). Make one per wait.
 *
 * @example
 * ```ts
 * import { parkWithBackoffSync } from "@ipckit/ipc/ffi";
 *
 * parkWithBackoffSync()(1);
 * ```
 *
 * @returns The park function for {@linkcode waitUntilSync}.
 */
export function parkWithBackoffSync(): ParkSync {
  let ms = FIRST_PAUSE_MS;
  return (left) => {
    pauseSync(Math.min(ms, left));
    ms = Math.min(ms * 2, LONGEST_PAUSE_MS);
  };
}
