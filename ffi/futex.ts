// Cross-process futex waits on a 32-bit word in shared memory. FUTEX_WAIT
// without FUTEX_PRIVATE_FLAG works across processes that map the same
// memory; Atomics.wait only wakes threads of one process.
import { backend, errno, libc } from "./_libc.ts";
import { arch } from "./platform.ts";
import { SYS_FUTEX_WAITV } from "./_futex_waiter.ts";
import type { Keeper } from "./_types.ts";
import { pause } from "./pause.ts";
import { addressOf } from "./memory.ts";
import { IpcError } from "./error.ts";
import type { WaitOptions } from "./wait.ts";
import { startTimer } from "./pause.ts";
import { checkSignal, checkTimeout } from "./validate.ts";
import { timeoutError } from "./wait.ts";
import { readEnvironment } from "./proc.ts";
import {
  ACTIVE,
  CANCELLED,
  FREE,
  type FutexSlots,
  futexSlots,
  SLOTS,
} from "./_futex_slots.ts";

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const EAGAIN = 11;
const EINTR = 4;
const ETIMEDOUT = 110;
const ENOSYS = 38;
const EINVAL = 22;

/** How a futex wait ended. */
export type FutexWaitResult = "ok" | "not-equal" | "timed-out";

// Looking an address up costs more than the futex call itself in Deno:
// remember it per view (a view's memory never moves).
const addresses = new WeakMap<Int32Array, number>();

function wordAddress(word: Int32Array, index: number): number {
  if (!(index >= 0 && index < word.length && Number.isInteger(index))) {
    throw new RangeError(
      `Futex index ${index} is out of range (0..${word.length - 1})`,
    );
  }
  let base = addresses.get(word);
  if (base === undefined) addresses.set(word, base = addressOf(word));
  return base + index * 4;
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
      arch().sysFutex,
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
    arch().sysFutex,
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

/** The error of a failed asynchronous futex wait. */
function futexError(e: number): IpcError {
  return new IpcError(e, {
    syscall: "futex_waitv",
    action: "wait on futex",
    hint: e === ENOSYS
      ? "Asynchronous futex waits need Linux 5.16 or later; use futexWaitSync()"
      : undefined,
  });
}

interface PendingWait {
  readonly token: number;
  done(result: string): void;
  fail(error: Error): void;
}

/**
 * One registration table and what waits on it: under Bun a helper thread
 * (a worker blocked in futex_waitv), under Deno a nonblocking FFI
 * futex_waitv resolved on the main thread (one thread hop instead of two).
 */
interface FutexThread {
  readonly slots: FutexSlots;
  readonly pending: Map<number, PendingWait>;
  /** Keep waiting (a wait is pending) or let the process exit. */
  ref(): void;
  unref(): void;
}

const threads: FutexThread[] = [];
let nextToken = 0;
let busy = 0;

/**
 * How many asynchronous futex waits are registered with a helper thread
 * right now (for tests and diagnostics). A cancelled wait leaves the count
 * at once: the helper drops it on its next turn.
 *
 * @example
 * ```ts
 * import { pendingFutexWaits } from "@ipckit/ipc/ffi";
 *
 * console.log(pendingFutexWaits()); // 0
 * ```
 *
 * @returns The number of pending waits.
 */
export function pendingFutexWaits(): number {
  return busy;
}

/** Tells a helper its table changed: the futex_waitv it sits in returns. */
function bump(t: FutexThread): void {
  Atomics.add(t.slots.control, 0, 1);
  Atomics.notify(t.slots.control, 0);
  futexWake(t.slots.control, 0, 1);
}

function startThread(): FutexThread {
  const slots = futexSlots();
  const pending = new Map<number, PendingWait>();
  const onReport = (slot: number, token: number, result: string) => {
    const wait = pending.get(slot);
    const address = slots.address[slot];
    Atomics.store(slots.state, slot, FREE);
    if (wait !== undefined && wait.token === token) {
      pending.delete(slot);
      busy--;
      if (pending.size === 0) t.unref();
      wait.done(result);
    } else if (result === "ok" && address !== undefined) {
      // A cancelled wait took a wake-up meant for someone: pass it on, as
      // futex users expect a wake to reach a waiter that still waits.
      libc().syscall(arch().sysFutex, address, FUTEX_WAKE, 1, null, 0, 0);
    }
  };
  // The helper cannot run (its module missing from a bundle, say): fail
  // every wait it holds now, and let the next wait start a new one.
  const onFailure = (error: Error) => {
    const at = threads.indexOf(t);
    if (at !== -1) threads.splice(at, 1);
    for (const [slot, wait] of [...pending]) {
      pending.delete(slot);
      busy--;
      wait.fail(error);
    }
    t.unref();
  };
  const keeper: Keeper = backend().startFutexWaiter(
    slots.buffer,
    onReport,
    onFailure,
  );
  const t: FutexThread = {
    slots,
    pending,
    ref: () => keeper.ref(),
    unref: () => keeper.unref(),
  };
  threads.push(t);
  return t;
}

/** A free slot of some helper thread, starting a new thread if all are taken. */
function freeSlot(): [FutexThread, number] {
  for (const t of threads) {
    for (let slot = 0; slot < SLOTS; slot++) {
      if (Atomics.load(t.slots.state, slot) === FREE) return [t, slot];
    }
  }
  return [startThread(), 0];
}

/** Registers a wait with a helper thread; returns its cancel function. */
function register(
  address: number,
  expected: number,
  wait: Omit<PendingWait, "token">,
): () => void {
  const [t, slot] = freeSlot();
  const token = nextToken = (nextToken + 1) | 0;
  t.pending.set(slot, { token, ...wait });
  t.slots.address[slot] = address;
  t.slots.expected[slot] = expected;
  t.slots.token[slot] = token;
  Atomics.store(t.slots.state, slot, ACTIVE);
  busy++;
  if (t.pending.size === 1) t.ref();
  bump(t);
  return () => {
    if (t.pending.get(slot)?.token !== token) return;
    t.pending.delete(slot);
    busy--;
    if (t.pending.size === 0) t.unref();
    // If the helper already reported, its message frees the slot (and
    // passes on a wake-up it took); otherwise it frees it on its next turn.
    Atomics.compareExchange(t.slots.state, slot, ACTIVE, CANCELLED);
    bump(t);
  };
}

type Method =
  | { readonly kind: "waitv" | "poll" }
  | { readonly kind: "unusable"; readonly errno: number };
let method: Method | undefined;

/**
 * How asynchronous futex waits work here, decided once: `"waitv"` (one
 * helper thread in futex_waitv(2) for up to 127 waits, Linux 5.16+) or
 * `"poll"` (the word is re-read after short pauses: kernels before 5.16, or
 * `IPCKIT_FUTEX_WAIT=poll` in the environment). Where futex_waitv exists but
 * is refused (a seccomp profile), waits reject with the real errno.
 *
 * @example
 * ```ts
 * import { futexWaitMethod } from "@ipckit/ipc/ffi";
 *
 * console.log(futexWaitMethod()); // "waitv" on Linux 5.16+
 * ```
 *
 * @returns `"waitv"` or `"poll"`.
 * @throws {IpcError} When futex_waitv is refused (`EPERM`, ...).
 */
export function futexWaitMethod(): "waitv" | "poll" {
  const m = chooseMethod();
  if (m.kind === "unusable") throw futexError(m.errno);
  return m.kind;
}

function chooseMethod(): Method {
  if (method !== undefined) return method;
  if (readEnvironment("IPCKIT_FUTEX_WAIT") === "poll") {
    return method = { kind: "poll" };
  }
  // No waiters: EINVAL where the kernel has the call and lets us make it.
  const r = libc().syscall(SYS_FUTEX_WAITV, 0, 0, 0, null, 0, 0);
  const e = r === -1 ? errno() : EINVAL;
  method = e === ENOSYS
    ? { kind: "poll" }
    : e === EINVAL
    ? { kind: "waitv" }
    : { kind: "unusable", errno: e };
  return method;
}

// Poll mode: the word is re-read after pauses that grow from 0.05 to 2 ms.
// A change of the value counts as the wake-up (every ipckit waker changes
// the word before it wakes); the timeout is honoured as in the helper.
const POLL_FIRST_MS = 0.05;
const POLL_LONGEST_MS = 2;

/** One poll-mode wait. The word is read only while the signal stands. */
async function pollWait(
  word: Int32Array,
  index: number,
  expected: number,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<"ok"> {
  const deadline = timeout === undefined
    ? Infinity
    : performance.now() + timeout;
  let delay = POLL_FIRST_MS;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) {
      throw timeoutError(timeout!, "futex");
    }
    await pause(Math.min(delay, left), signal);
    delay = Math.min(delay * 2, POLL_LONGEST_MS);
    // A view whose memory went away (detached) ends the wait: the caller
    // checks its handle before it looks at the memory again.
    if (index >= word.length || Atomics.load(word, index) !== expected) {
      return "ok";
    }
  }
}

/**
 * Waits while `word[index]` equals `expected`, without blocking the event
 * loop. One helper thread waits in a single futex_waitv(2) on up to 127
 * words at once (plus a control word it is woken through), so many pending
 * waits cost one thread, not one each. Abort or timeout takes the wait off
 * the helper's table at once; other waiters on the word are not disturbed.
 * Before Linux 5.16 (no futex_waitv) the word is re-read after short pauses
 * instead, and a change of its value counts as the wake-up (see
 * {@linkcode futexWaitMethod}).
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
 * @throws {IpcError} `ENOSYS` on kernels before 5.16, `EFAULT` when the
 *   memory was unmapped while waiting.
 */
export function futexWait(
  word: Int32Array,
  index: number,
  expected: number,
  options?: WaitOptions,
): Promise<Exclude<FutexWaitResult, "timed-out">> {
  if (options === undefined) options = {};
  const signal = checkSignal(options.signal);
  const timeout = checkTimeout(options.timeout);
  const address = wordAddress(word, index);
  if (signal?.aborted) return Promise.reject(signal.reason);
  const m = chooseMethod();
  if (m.kind === "unusable") return Promise.reject(futexError(m.errno));
  if (Atomics.load(word, index) !== expected) {
    return Promise.resolve("not-equal");
  }
  if (m.kind === "poll") {
    return pollWait(word, index, expected, timeout, signal);
  }
  return new Promise((resolve, reject) => {
    let cancelTimer = () => {};
    const finish = () => {
      cancelTimer();
      signal?.removeEventListener("abort", onAbort);
    };
    const cancel = register(address, expected, {
      done: (result) => {
        finish();
        void word; // the memory stays reachable until the wait ends
        if (result === "ok" || result === "not-equal") resolve(result);
        else reject(futexError(Number(result.slice(6))));
      },
      fail: (error) => {
        finish();
        reject(error);
      },
    });
    const stop = (reason: unknown) => {
      finish();
      cancel();
      reject(reason);
    };
    const onAbort = () => stop(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      cancelTimer = startTimer(timeout, () =>
        stop(
          timeoutError(timeout, "futex"),
        ));
    }
  });
}
