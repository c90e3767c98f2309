// Waiting for descriptors without blocking the event loop, in both runtimes.
//
// One epoll_wait call runs off the main thread (see _reactor_driver.ts). The
// main thread arms a descriptor itself with epoll_ctl (EPOLLONESHOT), the
// driver reports back which registrations fired, and the waiters wake and
// retry their own non-blocking call, so errno stays on the thread that made
// it. Cancelling a wait is an epoll_ctl on the main thread: no thread is
// ever left blocked.
import { errno, libc } from "./_libc.ts";
import { epollEvents } from "./_epoll.ts";
import { encodeEvent } from "./_epoll.ts";
import { type ReactorDriver, startDriver } from "./_reactor_driver.ts";
import { IpcError } from "./error.ts";
import type { WaitOptions } from "./wait.ts";
import { startTimer } from "./pause.ts";
import { checkTimeout } from "./validate.ts";

/** Which readiness to wait for. */
export type Readiness = "read" | "write";

const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EPOLLERR = 0x8;
const EPOLLHUP = 0x10;
const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0x80000;
const ENOENT = 2;
const EEXIST = 17;

interface Waiter {
  readonly kind: Readiness;
  resolve(): void;
  reject(reason: unknown): void;
}

interface Entry {
  readonly waiters: Waiter[];
  /** The token of the current arming; events carrying another are stale. */
  token: number;
  registered: boolean;
}

let epfd = -1;
let driver: ReactorDriver | undefined;
let nextToken = 1;
let pending = 0;
const entries = new Map<number, Entry>();
const byToken = new Map<number, number>();
let event: Uint8Array | undefined;

function start(): void {
  if (epfd >= 0) return;
  epfd = libc().epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    throw new IpcError(errno(), {
      syscall: "epoll_create1",
      action: "start the reactor",
    });
  }
  driver = startDriver(epfd, onFired);
}

function ctl(op: number, fd: number, events: number, token: number): number {
  event ??= epollEvents(1);
  encodeEvent(event, events, token);
  return libc().epoll_ctl(epfd, op, fd, event) === 0 ? 0 : errno();
}

/** Arms the descriptor for the interest of its remaining waiters. */
function arm(fd: number, entry: Entry): void {
  let events = EPOLLONESHOT;
  for (const w of entry.waiters) {
    events |= w.kind === "read" ? EPOLLIN : EPOLLOUT;
  }
  byToken.delete(entry.token);
  nextToken = nextToken >= 0xffffffff ? 1 : nextToken + 1;
  entry.token = nextToken;
  byToken.set(entry.token, fd);
  let error = entry.registered
    ? ctl(EPOLL_CTL_MOD, fd, events, entry.token)
    : ctl(EPOLL_CTL_ADD, fd, events, entry.token);
  // The descriptor number may have been closed and reused behind our back.
  if (error === ENOENT) error = ctl(EPOLL_CTL_ADD, fd, events, entry.token);
  if (error === EEXIST) error = ctl(EPOLL_CTL_MOD, fd, events, entry.token);
  if (error !== 0) {
    byToken.delete(entry.token);
    entries.delete(fd);
    const failure = new IpcError(error, {
      syscall: "epoll_ctl",
      action: "wait for descriptor",
      path: String(fd),
    });
    for (const w of entry.waiters.splice(0)) settle(w, failure);
    return;
  }
  entry.registered = true;
}

function unregister(fd: number, entry: Entry): void {
  byToken.delete(entry.token);
  entries.delete(fd);
  if (entry.registered) ctl(EPOLL_CTL_DEL, fd, 0, 0);
}

function settle(waiter: Waiter, failure?: unknown): void {
  pending--;
  if (pending === 0) driver?.unref();
  if (failure === undefined) waiter.resolve();
  else waiter.reject(failure);
}

function onFired(fired: Uint32Array): void {
  for (let i = 0; i < fired.length; i += 2) {
    const fd = byToken.get(fired[i]);
    if (fd === undefined) continue; // cancelled or re-armed since
    const entry = entries.get(fd)!;
    byToken.delete(entry.token);
    const events = fired[i + 1];
    const broken = (events & (EPOLLERR | EPOLLHUP)) !== 0;
    const readable = broken || (events & EPOLLIN) !== 0;
    const writable = broken || (events & EPOLLOUT) !== 0;
    const woken = entry.waiters.filter((w) =>
      w.kind === "read" ? readable : writable
    );
    const rest = entry.waiters.filter((w) => !woken.includes(w));
    entry.waiters.splice(0, entry.waiters.length, ...rest);
    if (rest.length > 0) arm(fd, entry);
    for (const w of woken) settle(w);
  }
}

/**
 * Resolves when a descriptor is ready to read or write, without blocking the
 * event loop. The descriptor should be non-blocking; after this resolves,
 * make the non-blocking call and wait again if it reports `EAGAIN` (another
 * reader may have been first).
 *
 * @example Waiting for an eventfd to be signalled
 * ```ts
 * import { libc, waitForDescriptor } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(0, 0x80800); // EFD_CLOEXEC | EFD_NONBLOCK
 * setTimeout(() => libc().write(fd, new BigUint64Array([1n]), 8), 10);
 * await waitForDescriptor(fd, "read", { timeout: 1000 });
 * libc().close(fd);
 * ```
 *
 * @param fd The descriptor (any pollable one: pipe, socket, FIFO, mqd_t,
 *   eventfd, signalfd, timerfd).
 * @param kind `"read"` or `"write"`.
 * @param options Cancellation and timeout.
 * @returns A promise that resolves once the descriptor is ready.
 * @throws {DOMException} `TimeoutError` after `timeout` ms, or the signal's
 *   reason when aborted.
 * @throws {IpcError} When the descriptor cannot be watched (`EBADF`,
 *   `EPERM` for a regular file).
 */
export function waitForDescriptor(
  fd: number,
  kind: Readiness,
  options: WaitOptions = {},
): Promise<void> {
  const { signal } = options;
  const timeout = checkTimeout(options.timeout);
  if (signal?.aborted) return Promise.reject(signal.reason);
  start(); // the first call starts the thread, which may take a while

  return new Promise<void>((resolve, reject) => {
    let cancelTimer = () => {};
    const cleanup = () => {
      cancelTimer();
      signal?.removeEventListener("abort", onAbort);
    };
    const waiter: Waiter = {
      kind,
      resolve: () => {
        cleanup();
        resolve();
      },
      reject: (reason) => {
        cleanup();
        reject(reason);
      },
    };
    const cancel = (reason: unknown) => {
      const entry = entries.get(fd);
      const at = entry?.waiters.indexOf(waiter) ?? -1;
      if (entry === undefined || at === -1) return;
      entry.waiters.splice(at, 1);
      if (entry.waiters.length === 0) unregister(fd, entry);
      else arm(fd, entry);
      settle(waiter, reason);
    };
    const onAbort = () => cancel(signal!.reason);
    let entry = entries.get(fd);
    if (entry === undefined) {
      entry = { waiters: [], token: 0, registered: false };
      entries.set(fd, entry);
    }
    entry.waiters.push(waiter);
    pending++;
    if (pending === 1) driver!.ref();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      cancelTimer = startTimer(timeout, () =>
        cancel(
          new DOMException(
            `Timed out after ${timeout} ms waiting for descriptor ${fd}`,
            "TimeoutError",
          ),
        ));
    }
    arm(fd, entry);
  });
}

/**
 * Stops watching a descriptor before it is closed, rejecting its pending
 * waits with `reason`. Handles call this from `close()`.
 *
 * @example
 * ```ts
 * import { forgetDescriptor, libc } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(0, 0x80800);
 * forgetDescriptor(fd, new Error("closed"));
 * libc().close(fd);
 * ```
 *
 * @param fd The descriptor about to be closed.
 * @param reason What pending waits reject with.
 */
export function forgetDescriptor(fd: number, reason: unknown): void {
  const entry = entries.get(fd);
  if (entry === undefined) return;
  unregister(fd, entry);
  for (const w of entry.waiters.splice(0)) settle(w, reason);
}

/**
 * The number of waits the reactor holds right now (for tests and
 * diagnostics).
 *
 * @example
 * ```ts
 * import { pendingWaits } from "@ipckit/ipc/ffi";
 *
 * console.log(pendingWaits()); // 0
 * ```
 *
 * @returns How many {@linkcode waitForDescriptor} promises are unsettled.
 */
export function pendingWaits(): number {
  return pending;
}

/**
 * The reactor's epoll descriptor, or -1 before the first asynchronous wait
 * (for tests and diagnostics: `/proc/self/fdinfo/<fd>` lists what it
 * watches).
 *
 * @example
 * ```ts
 * import { reactorDescriptor } from "@ipckit/ipc/ffi";
 *
 * console.log(reactorDescriptor() >= -1); // true
 * ```
 *
 * @returns The descriptor.
 */
export function reactorDescriptor(): number {
  return epfd;
}
