// What the semaphore, mutex and System V files share: option checks, views
// over caller memory, and who owns a lock (thread id, PID namespace).
import {
  checkInteger,
  errno,
  IpcError,
  libc,
  readKernelFile,
  statPath,
} from "../ffi/mod.ts";

const ESRCH = 3;

/** The largest semaphore value (`SEM_VALUE_MAX` on Linux). */
export const SEM_VALUE_MAX = 0x7fffffff;

/** Checks a semaphore value: an integer from 0 to `SEM_VALUE_MAX`. */
export function checkValue(value: unknown, what = "value"): number {
  return checkInteger(value, what, 0, SEM_VALUE_MAX);
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
  buffer: unknown,
  byteOffset: unknown,
  byteLength: number,
  align: number,
  what: string,
): asserts buffer is ArrayBufferLike {
  if (
    !(buffer instanceof ArrayBuffer) &&
    !(typeof SharedArrayBuffer !== "undefined" &&
      buffer instanceof SharedArrayBuffer)
  ) {
    throw new TypeError(
      `buffer must be an ArrayBuffer or SharedArrayBuffer (a ${what} lives in one), got ${
        buffer === null
          ? "null"
          : typeof buffer === "object"
          ? Object.prototype.toString.call(buffer)
          : typeof buffer
      }`,
    );
  }
  checkInteger(byteOffset, "byteOffset", 0, Number.MAX_SAFE_INTEGER);
  if ((byteOffset as number) % align !== 0) {
    throw new RangeError(
      `A ${what} needs a byteOffset that is a multiple of ${align}, got ${byteOffset}`,
    );
  }
  if ((byteOffset as number) + byteLength > buffer.byteLength) {
    throw new RangeError(
      `A ${what} needs ${byteLength} bytes at byteOffset ${byteOffset}, but the buffer has ${buffer.byteLength}`,
    );
  }
}

/**
 * The error for memory that is gone: the buffer a semaphore, mutex or
 * condition lives in was detached (unmapped, resized, transferred).
 */
export function memoryGoneError(what: string, syscall: string): IpcError {
  return new IpcError("EBADF", {
    syscall,
    action: `use ${what}`,
    hint: `The memory it lives in is gone: its ArrayBuffer was detached ` +
      `(the mapping was closed, resized or remapped, or the buffer transferred)`,
  });
}

let tid = 0;

/** The calling thread's id (gettid(2)), the owner a mutex records. */
export function threadId(): number {
  if (tid === 0) tid = libc().gettid();
  return tid;
}

let namespaceId: number | undefined;

/**
 * The low 32 bits of the inode of this process's PID namespace
 * (`/proc/self/ns/pid`, through libc open + fstat) as a signed 32-bit
 * integer (what an Int32Array holds), or 1 when /proc cannot tell (so that
 * 0 keeps meaning "not recorded yet" in a mutex).
 */
export function pidNamespace(): number {
  if (namespaceId !== undefined) return namespaceId;
  let id = 1;
  try {
    id = Number(BigInt.asIntN(32, statPath("/proc/self/ns/pid").ino)) || 1;
  } catch {
    // /proc not mounted: 1 stands for "this namespace, not known".
  }
  return namespaceId = id;
}

/**
 * Whether the thread `id` (of this PID namespace) is gone: kill(id, 0)
 * fails with ESRCH, or /proc says it is a zombie (a dead process its parent
 * has not reaped yet still answers kill). EPERM means it exists under
 * another user: alive. /proc is read through libc, so Deno needs only
 * --allow-ffi.
 */
export function threadGone(id: number): boolean {
  if (id <= 0) return false;
  if (libc().kill(id, 0) === -1 && errno() === ESRCH) return true;
  const stat = readKernelFile(`/proc/${id}/stat`, 512);
  // Gone between the two checks: no entry (readKernelFile cannot tell
  // ENOENT from other failures, so ask kill again).
  if (stat === undefined) {
    return libc().kill(id, 0) === -1 && errno() === ESRCH;
  }
  const at = stat.lastIndexOf(")");
  const state = stat.slice(at + 2, at + 3);
  return state === "Z" || state === "X";
}
