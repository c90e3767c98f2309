// Calling libc the way every module should: errno read on the calling thread
// right after the failure, EINTR retried, failures thrown as IpcError.
import { errno } from "./_libc.ts";
import { IpcError, type IpcErrorOptions } from "./error.ts";
import { errnoCode } from "./_errno.ts";

const EINTR = 4;
const EAGAIN = 11;

/**
 * Runs a libc call that returns -1 on failure; retries `EINTR` and throws
 * {@linkcode IpcError} for any other failure.
 *
 * @example Closing a descriptor
 * ```ts
 * import { libc, sys } from "@ipckit/ipc/ffi";
 *
 * const fd = sys(() => libc().eventfd(0, 0x80000), { syscall: "eventfd" });
 * sys(() => libc().close(fd), { syscall: "close" });
 * ```
 *
 * @param call The call, made again after `EINTR`.
 * @param options What to say if it fails.
 * @param explain Advice for the message, given the error code.
 * @returns The call's result (never -1).
 * @throws {IpcError} When the call fails with anything but `EINTR`.
 */
export function sys(
  call: () => number,
  options: IpcErrorOptions,
  explain?: (code: string) => string | undefined,
): number {
  for (;;) {
    const result = call();
    if (result !== -1) return result;
    const e = errno();
    if (e === EINTR) continue;
    const hint = explain?.(errnoCode(e)) ?? options.hint;
    throw new IpcError(e, hint === undefined ? options : { ...options, hint });
  }
}

/**
 * Like {@linkcode sys}, for a call on a non-blocking descriptor: returns
 * `undefined` instead of throwing when it fails with `EAGAIN`.
 *
 * @example Reading an eventfd that may be empty
 * ```ts
 * import { libc, sys, trySys } from "@ipckit/ipc/ffi";
 *
 * const fd = sys(() => libc().eventfd(0, 0x80800), { syscall: "eventfd" });
 * const counter = new BigUint64Array(1);
 * console.log(trySys(() => libc().read(fd, counter, 8), { syscall: "read" })); // undefined
 * libc().close(fd);
 * ```
 *
 * @param call The call, made again after `EINTR`.
 * @param options What to say if it fails.
 * @returns The call's result, or `undefined` when it would block.
 * @throws {IpcError} When the call fails with anything but `EINTR`/`EAGAIN`.
 */
export function trySys(
  call: () => number,
  options: IpcErrorOptions,
): number | undefined {
  for (;;) {
    const result = call();
    if (result !== -1) return result;
    const e = errno();
    if (e === EAGAIN) return undefined;
    if (e !== EINTR) throw new IpcError(e, options);
  }
}

/**
 * For hand-written retry loops on hot paths (no closure per call): call it
 * after a libc call returned -1. Returns `true` for `EINTR` (make the call
 * again), throws {@linkcode IpcError} for anything else.
 *
 * @example
 * ```ts
 * import { libc, retryAfterFailure } from "@ipckit/ipc/ffi";
 *
 * const options = { syscall: "getpid" };
 * let pid: number;
 * while ((pid = libc().getpid()) === -1) retryAfterFailure(options);
 * console.log(pid > 0); // true
 * ```
 *
 * @param options What to say if it fails.
 * @returns `true` when the call should be retried.
 * @throws {IpcError} For every errno but `EINTR`.
 */
export function retryAfterFailure(options: IpcErrorOptions): true {
  const e = errno();
  if (e === EINTR) return true;
  throw new IpcError(e, options);
}
