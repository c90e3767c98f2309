// Cross-process futex waits on a 32-bit word in shared memory. FUTEX_WAIT
// without FUTEX_PRIVATE_FLAG works across processes that map the same
// memory; Atomics.wait only wakes threads of one process.
import { Worker } from "node:worker_threads";
import { ARCH, errno, libc } from "./_libc.ts";
import { addressOf } from "./memory.ts";
import { IpcError } from "./error.ts";
import type { WaitOptions } from "./reactor.ts";

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const EAGAIN = 11;
const EINTR = 4;
const ETIMEDOUT = 110;

/** How a futex wait ended. */
export type FutexWaitResult = "ok" | "not-equal" | "timed-out";

function wordAddress(word: Int32Array, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= word.length) {
    throw new RangeError(
      `Futex index ${index} is out of range (0..${word.length - 1})`,
    );
  }
  return addressOf(word) + index * 4;
}

const timespec = new BigInt64Array(2);

/**
 * Blocks the thread while `word[index]` equals `expected`, until another
 * thread or process calls {@linkcode futexWake} on it, or the timeout
 * (monotonic clock) passes. Wake-ups may be spurious: re-check the word.
 * Blocks the event loop; see {@linkcode futexWait} for the async form.
 *
 * @example
 * ```ts
 * import { futexWaitSync } from "@ipckit/ipc/ffi";
 *
 * const word = new Int32Array(new SharedArrayBuffer(4));
 * console.log(futexWaitSync(word, 0, 1)); // "not-equal": the word is 0
 * console.log(futexWaitSync(word, 0, 0, 5)); // "timed-out"
 * ```
 *
 * @param word A view over shared memory (mapped `MAP_SHARED` to reach other
 *   processes).
 * @param index The element to wait on.
 * @param expected Wait only while the element holds this value.
 * @param timeout Milliseconds to wait at most; `undefined` waits forever.
 * @returns `"ok"` when woken, `"not-equal"` when the value had already
 *   changed, `"timed-out"` when the timeout passed.
 * @throws {IpcError} When futex(2) fails otherwise.
 */
export function futexWaitSync(
  word: Int32Array,
  index: number,
  expected: number,
  timeout?: number,
): FutexWaitResult {
  const address = wordAddress(word, index);
  const deadline = timeout === undefined
    ? Infinity
    : performance.now() + timeout;
  for (;;) {
    let ts: BigInt64Array | null = null;
    if (deadline !== Infinity) {
      const left = Math.max(0, deadline - performance.now());
      timespec[0] = BigInt(Math.floor(left / 1000));
      timespec[1] = BigInt(Math.floor((left % 1000) * 1e6));
      ts = timespec;
    }
    const r = libc().syscall(
      ARCH.sysFutex,
      address,
      FUTEX_WAIT,
      expected,
      ts,
      0,
      0,
    );
    if (r === 0) return "ok";
    const e = errno();
    if (e === EAGAIN) return "not-equal";
    if (e === ETIMEDOUT) return "timed-out";
    if (e !== EINTR) {
      throw new IpcError(e, { syscall: "futex", action: "wait on futex" });
    }
  }
}

/**
 * Wakes up to `count` threads or processes waiting on `word[index]`.
 *
 * @example
 * ```ts
 * import { futexWake } from "@ipckit/ipc/ffi";
 *
 * const word = new Int32Array(new SharedArrayBuffer(4));
 * Atomics.store(word, 0, 1);
 * console.log(futexWake(word, 0)); // 0: nobody was waiting
 * ```
 *
 * @param word The shared memory view.
 * @param index The element.
 * @param count How many waiters to wake at most.
 * @returns How many were woken.
 * @throws {IpcError} When futex(2) fails.
 */
export function futexWake(
  word: Int32Array,
  index: number,
  count: number = 1,
): number {
  const address = wordAddress(word, index);
  const r = libc().syscall(
    ARCH.sysFutex,
    address,
    FUTEX_WAKE,
    count,
    null,
    0,
    0,
  );
  if (r < 0) {
    throw new IpcError(errno(), {
      syscall: "futex",
      action: "wake futex waiters",
    });
  }
  return r;
}

interface FutexThread {
  readonly worker: Worker;
  readonly cancel: Int32Array;
  done?: (result: string) => void;
}

const idle: FutexThread[] = [];
let busy = 0;

/**
 * How many helper threads are inside a futex wait right now, cancelled
 * waits included until their thread has left futex(2) (for tests and
 * diagnostics).
 *
 * @example
 * ```ts
 * import { pendingFutexWaits } from "@ipckit/ipc/ffi";
 *
 * console.log(pendingFutexWaits()); // 0
 * ```
 *
 * @returns The number of busy helper threads.
 */
export function pendingFutexWaits(): number {
  return busy;
}

function thread(): FutexThread {
  const reused = idle.pop();
  if (reused !== undefined) return reused;
  const t: FutexThread = {
    worker: new Worker(new URL("./_futex_worker.ts", import.meta.url)),
    cancel: new Int32Array(new SharedArrayBuffer(4)),
  };
  t.worker.on("message", (result: string) => {
    busy--;
    t.worker.unref();
    const done = t.done;
    t.done = undefined;
    idle.push(t);
    done?.(result);
  });
  return t;
}

/**
 * Waits while `word[index]` equals `expected`, without blocking the event
 * loop: a helper thread makes the blocking futex(2) call. Abort or timeout
 * wakes that thread at once (waiters on the same word see a spurious
 * wake-up, which futex users must tolerate anyway).
 *
 * @example
 * ```ts
 * import { futexWait, futexWake } from "@ipckit/ipc/ffi";
 *
 * const word = new Int32Array(new SharedArrayBuffer(4));
 * const woken = futexWait(word, 0, 0, { timeout: 1000 });
 * setTimeout(() => { Atomics.store(word, 0, 1); futexWake(word, 0); }, 10);
 * console.log(await woken); // "ok" (or "not-equal" if the store came first)
 * ```
 *
 * @param word The shared memory view (kept alive until the wait ends).
 * @param index The element.
 * @param expected Wait only while the element holds this value.
 * @param options Cancellation and timeout.
 * @returns `"ok"` or `"not-equal"`.
 * @throws {DOMException} `TimeoutError` after `timeout` ms, or the signal's
 *   reason when aborted.
 */
export function futexWait(
  word: Int32Array,
  index: number,
  expected: number,
  options: WaitOptions = {},
): Promise<Exclude<FutexWaitResult, "timed-out">> {
  const { signal, timeout } = options;
  const address = wordAddress(word, index);
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (Atomics.load(word, index) !== expected) {
    return Promise.resolve("not-equal");
  }
  const t = thread();
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failure: unknown;
    const cancel = (reason: unknown) => {
      if (failure !== undefined) return;
      failure = reason;
      Atomics.store(t.cancel, 0, 1);
      futexWake(word, index, 0x7fffffff);
    };
    const onAbort = () => cancel(signal!.reason);
    t.done = (result) => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      void word; // keep the memory reachable until the thread is done
      if (failure !== undefined) reject(failure);
      else if (result === "ok" || result === "not-equal") resolve(result);
      else if (result === "cancelled") reject(failure);
      else {
        reject(
          new IpcError(Number(result.slice(6)), {
            syscall: "futex",
            action: "wait on futex",
          }),
        );
      }
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined && timeout !== Infinity) {
      timer = setTimeout(
        () =>
          cancel(
            new DOMException(`Timed out after ${timeout} ms`, "TimeoutError"),
          ),
        Math.max(0, timeout),
      );
    }
    Atomics.store(t.cancel, 0, 0);
    busy++;
    t.worker.ref();
    t.worker.postMessage({ address, expected, cancel: t.cancel });
  });
}
