// Blocking waits for one descriptor, on the monotonic clock.
import { errno, libc } from "./_libc.ts";
import { IpcError } from "./error.ts";
import type { Readiness } from "./reactor.ts";

const POLLIN = 0x1;
const POLLOUT = 0x4;
const EINTR = 4;
const pollfd = new Int32Array(2);
const pollfdEvents = new Int16Array(pollfd.buffer);

/**
 * Blocks the thread until a descriptor is ready or the timeout passes. poll(2)
 * measures its timeout on the monotonic clock; after a signal interrupts it,
 * the wait resumes with what is left.
 *
 * @example
 * ```ts
 * import { libc, pollDescriptorSync } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(0, 0x80800);
 * console.log(pollDescriptorSync(fd, "read", 10)); // false: nothing written
 * libc().close(fd);
 * ```
 *
 * @param fd The descriptor.
 * @param kind `"read"` or `"write"`.
 * @param timeout Milliseconds to wait at most; `undefined` waits forever.
 * @returns `true` when ready (or in error/hang-up state), `false` on timeout.
 * @throws {IpcError} When poll(2) fails.
 */
export function pollDescriptorSync(
  fd: number,
  kind: Readiness,
  timeout?: number,
): boolean {
  const deadline = timeout === undefined || timeout === Infinity
    ? Infinity
    : performance.now() + Math.max(0, timeout);
  for (;;) {
    pollfd[0] = fd;
    pollfdEvents[2] = kind === "read" ? POLLIN : POLLOUT;
    pollfdEvents[3] = 0;
    // poll(2) takes an int: wait at most 2^31-1 ms per call.
    const left = deadline === Infinity ? -1 : Math.min(
      0x7fffffff,
      Math.max(0, Math.ceil(deadline - performance.now())),
    );
    const n = libc().poll(pollfd, 1, left);
    if (n > 0) return true;
    if (n === 0) {
      if (performance.now() >= deadline) return false;
      continue; // poll rounds to the jiffy: finish the wait
    }
    const e = errno();
    if (e !== EINTR) {
      throw new IpcError(e, {
        syscall: "poll",
        action: "wait for descriptor",
        path: String(fd),
      });
    }
  }
}
