// Pauses for the retry-with-backoff loops of objects that cannot be polled
// (System V queues and semaphores, file locks, a semaphore without futex).

import { MAX_TIMER_MS } from "./validate.ts";
import { backend } from "./_libc.ts";

const pauseWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread for `ms` milliseconds (Atomics.wait on a private word:
 * no syscall of ours, no busy loop).
 *
 * @example
 * ```ts
 * import { pauseSync } from "@ipckit/ipc/ffi";
 *
 * pauseSync(1);
 * ```
 *
 * @param ms How long, in milliseconds.
 */
export function pauseSync(ms: number): void {
  Atomics.wait(pauseWord, 0, 0, ms);
}

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason as
 * soon as it aborts.
 *
 * @example
 * ```ts
 * import { pause } from "@ipckit/ipc/ffi";
 *
 * await pause(1, AbortSignal.timeout(1000));
 * ```
 *
 * @param ms How long, in milliseconds.
 * @param signal Cancels the pause.
 * @returns A promise that resolves after the pause.
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    // startTimer: a pause beyond 2^31-1 ms must not end at once.
    const cancel = startTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `fn` after `ms` milliseconds, however long (setTimeout alone fires
 * at once above 2^31-1 ms). Returns the function that cancels it.
 *
 * @example
 * ```ts
 * import { startTimer } from "@ipckit/ipc/ffi";
 *
 * const cancel = startTimer(30 * 24 * 3600 * 1000, () => console.log("a month later"));
 * cancel();
 * ```
 *
 * @param ms The delay in milliseconds (`Infinity`: never).
 * @param fn What to run.
 * @param unref Let the process exit while the timer is pending.
 * @returns A function that cancels the timer.
 */
export function startTimer(
  ms: number,
  fn: () => void,
  unref = false,
): () => void {
  if (ms === Infinity) return () => {};
  const end = performance.now() + ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = end - performance.now();
    if (left > MAX_TIMER_MS) timer = setTimeout(arm, MAX_TIMER_MS);
    else timer = setTimeout(fn, Math.max(0, left));
    if (unref) backend().unrefTimer(timer);
  };
  arm();
  return () => clearTimeout(timer);
}
