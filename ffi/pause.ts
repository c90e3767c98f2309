// Pauses for the retry-with-backoff loops of objects that cannot be polled
// (System V queues and semaphores, file locks, a semaphore without futex).

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
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
