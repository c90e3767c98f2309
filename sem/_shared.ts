// What the semaphore, mutex and System V files share: option checks, the
// monotonic clock, timeouts, and views over caller memory.
import { readFileSync } from "node:fs";
import { errno, libc } from "../ffi/mod.ts";

const CLOCK_MONOTONIC = 1;
const ESRCH = 3;
const now = new BigInt64Array(2);

/** The largest semaphore value (`SEM_VALUE_MAX` on Linux). */
export const SEM_VALUE_MAX = 0x7fffffff;

/** How many CPUs this process may run on (spinning only pays off with 2+). */
export const CPUS: number = (() => {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } })
    .navigator?.hardwareConcurrency;
  return typeof n === "number" ? n : 1;
})();

/** Throws a RangeError unless `timeout` is undefined or a number >= 0. */
export function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && !(timeout >= 0)) {
    throw new RangeError(
      `timeout must be a number of milliseconds >= 0, got ${timeout}`,
    );
  }
}

/** Throws a RangeError unless `mode` is a permission mask. */
export function checkMode(mode: number, max = 0o7777): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > max) {
    throw new RangeError(
      `mode must be an integer from 0 to 0o${max.toString(8)}, got ${mode}`,
    );
  }
}

/** Throws a RangeError unless `value` is a valid semaphore value. */
export function checkValue(value: number, what = "value"): void {
  if (!Number.isInteger(value) || value < 0 || value > SEM_VALUE_MAX) {
    throw new RangeError(
      `${what} must be an integer from 0 to ${SEM_VALUE_MAX} (SEM_VALUE_MAX), got ${value}`,
    );
  }
}

/** The `TimeoutError` every wait in this module rejects with. */
export function timeoutError(ms: number, what: string): DOMException {
  return new DOMException(
    `Timed out after ${ms} ms on ${what}`,
    "TimeoutError",
  );
}

/** Whether `error` is a timeout of our own making, not the signal's reason. */
export function isOwnTimeout(
  error: unknown,
  signal: AbortSignal | undefined,
): boolean {
  return !signal?.aborted && error instanceof DOMException &&
    error.name === "TimeoutError";
}

/**
 * The absolute CLOCK_MONOTONIC time `ms` from now, as a `struct timespec`
 * (for sem_clockwait).
 */
export function monotonicDeadline(ms: number): BigInt64Array {
  libc().clock_gettime(CLOCK_MONOTONIC, now);
  const total = now[1] + BigInt(Math.round((ms % 1000) * 1e6));
  const ts = new BigInt64Array(2);
  ts[0] = now[0] + BigInt(Math.floor(ms / 1000)) + total / 1_000_000_000n;
  ts[1] = total % 1_000_000_000n;
  return ts;
}

/** A relative `struct timespec` of `ms` milliseconds (for semtimedop). */
export function relativeTimespec(ms: number): BigInt64Array {
  const ts = new BigInt64Array(2);
  const left = Math.max(0, ms);
  ts[0] = BigInt(Math.floor(left / 1000));
  ts[1] = BigInt(Math.floor((left % 1000) * 1e6));
  return ts;
}

/**
 * Checks that `byteLength` bytes at `byteOffset` of `buffer` lie inside it
 * and that the offset is a multiple of `align`.
 */
export function checkRegion(
  buffer: ArrayBufferLike,
  byteOffset: number,
  byteLength: number,
  align: number,
  what: string,
): void {
  if (
    !(buffer instanceof ArrayBuffer) &&
    !(typeof SharedArrayBuffer !== "undefined" &&
      buffer instanceof SharedArrayBuffer)
  ) {
    throw new TypeError(
      `A ${what} lives in an ArrayBuffer or SharedArrayBuffer, got ${
        Object.prototype.toString.call(buffer)
      }`,
    );
  }
  if (!Number.isInteger(byteOffset) || byteOffset < 0) {
    throw new RangeError(
      `byteOffset must be a non-negative integer, got ${byteOffset}`,
    );
  }
  if (byteOffset % align !== 0) {
    throw new RangeError(
      `A ${what} needs a byteOffset that is a multiple of ${align}, got ${byteOffset}`,
    );
  }
  if (byteOffset + byteLength > buffer.byteLength) {
    throw new RangeError(
      `A ${what} needs ${byteLength} bytes at byteOffset ${byteOffset}, but the buffer has ${buffer.byteLength}`,
    );
  }
}

let tid = 0;

/** The calling thread's id (gettid(2)), the owner a mutex records. */
export function threadId(): number {
  if (tid === 0) tid = libc().gettid();
  return tid;
}

/**
 * Whether the thread `id` is gone: kill(id, 0) fails with ESRCH, or
 * /proc says it is a zombie (a dead process its parent has not reaped yet
 * still answers kill). EPERM means it exists under another user: alive.
 */
export function threadGone(id: number): boolean {
  if (id <= 0) return false;
  if (libc().kill(id, 0) === -1 && errno() === ESRCH) return true;
  try {
    const stat = readFileSync(`/proc/${id}/stat`, "latin1");
    const state = stat.slice(
      stat.lastIndexOf(")") + 2,
      stat.lastIndexOf(")") + 3,
    );
    return state === "Z" || state === "X";
  } catch (error) {
    // Gone between the two checks, or /proc unreadable (Deno without
    // --allow-read): only a missing entry counts as gone.
    return (error as { code?: string })?.code === "ENOENT";
  }
}
