// Waiting for descriptors without blocking the event loop, in both runtimes.
//
// One epoll_wait call runs off the main thread (the backend's reactor: a
// Deno nonblocking call, a Bun worker). The main thread arms a descriptor
// itself with epoll_ctl (EPOLLONESHOT), the reactor reports back which
// registrations fired, and the waiters wake and retry their own
// non-blocking call, so errno stays on the thread that made it. Cancelling a
// wait is an epoll_ctl on the main thread: no thread is ever left blocked.
import { backend, errno, libc } from "./_libc.ts";
import { encodeEvent, epollEvents } from "./_epoll.ts";
import type { Keeper } from "./_types.ts";
import { IpcError } from "./error.ts";
import type { WaitOptions } from "./wait.ts";
import { startTimer } from "./pause.ts";
import { checkSignal, checkTimeout } from "./validate.ts";
import { timeoutError } from "./wait.ts";

/** Which readiness to wait for. */
export type Readiness = "read" | "write";

/** What a descriptor reported when a wait for it ended. */
export interface ReadyEvents {
  /** Data can be read (or a read will not block: EOF). `EPOLLIN`. */
  readonly readable: boolean;
  /** Data can be written. `EPOLLOUT`. */
  readonly writable: boolean;
  /** The other end is gone (a pipe or FIFO without writers). `EPOLLHUP`. */
  readonly hangup: boolean;
  /** The peer shut its writing half down (sockets). `EPOLLRDHUP`. */
  readonly readHangup: boolean;
  /** An error is pending (a failed `connect()`, a pipe without readers). `EPOLLERR`. */
  readonly error: boolean;
}

/** Options of {@linkcode waitForDescriptor}. */
export interface DescriptorWaitOptions extends WaitOptions {
  /**
   * Let the process exit while this wait is pending (for a background
   * listener such as a server or a signal handler).
   * @default {false}
   */
  unref?: boolean | undefined;
}

const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EPOLLERR = 0x8;
const EPOLLHUP = 0x10;
const EPOLLRDHUP = 0x2000;
const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0x80000;
const ENOENT = 2;
const EEXIST = 17;

interface Waiter {
  readonly kind: Readiness;
  readonly unref: boolean;
  resolve(events: ReadyEvents): void;
  reject(reason: unknown): void;
}

interface Entry {
  readonly waiters: Waiter[];
  /** The token of the current arming; events carrying another are stale. */
  token: number;
  registered: boolean;
}

let epfd = -1;
let reactor: Keeper | undefined;
let nextToken = 1;
let pending = 0;
/** Pending waits that keep the process alive (not `unref`). */
let holding = 0;
const entries = new Map<number, Entry>();
const byToken = new Map<number, number>();
let event: Uint8Array | undefined;

function start(): void {
  if (reactor !== undefined) return;
  if (epfd < 0) {
    epfd = libc().epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
      throw new IpcError(errno(), {
        syscall: "epoll_create1",
        action: "start the reactor",
      });
    }
  }
  reactor = backend().startReactor(epfd, onFired, onFailure);
}

/** The reactor cannot wait: fail every pending wait, start afresh next time. */
function onFailure(error: Error): void {
  for (const [fd, entry] of [...entries]) {
    unregister(fd, entry);
    for (const w of entry.waiters.splice(0)) settle(w, error);
  }
  reactor?.unref(); // settle() unref'd it already when something waited
  reactor = undefined;
}

function ctl(op: number, fd: number, events: number, token: number): number {
  event ??= epollEvents(1);
  encodeEvent(event, events, token);
  return libc().epoll_ctl(epfd, op, fd, event) === 0 ? 0 : errno();
}

/** Arms the descriptor for the interest of its remaining waiters. */
function arm(fd: number, entry: Entry): void {
  let events = EPOLLONESHOT | EPOLLRDHUP;
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

function hold(waiter: Waiter): void {
  pending++;
  if (!waiter.unref && ++holding === 1) reactor?.ref();
}

function settle(waiter: Waiter, failure?: unknown, events?: ReadyEvents) {
  pending--;
  if (!waiter.unref && --holding === 0) reactor?.unref();
  if (failure === undefined) waiter.resolve(events!);
  else waiter.reject(failure);
}

function decode(events: number): ReadyEvents {
  return {
    readable: (events & EPOLLIN) !== 0,
    writable: (events & EPOLLOUT) !== 0,
    hangup: (events & EPOLLHUP) !== 0,
    readHangup: (events & EPOLLRDHUP) !== 0,
    error: (events & EPOLLERR) !== 0,
  };
}

function onFired(fired: Uint32Array): void {
  for (let i = 0; i + 1 < fired.length; i += 2) {
    const fd = byToken.get(fired[i]!);
    if (fd === undefined) continue; // cancelled or re-armed since
    const entry = entries.get(fd)!;
    byToken.delete(entry.token);
    const events = fired[i + 1]!;
    // A hang-up or an error wakes every waiter: its next call reports it.
    const broken = (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) !== 0;
    const readable = broken || (events & EPOLLIN) !== 0;
    const writable = broken || (events & EPOLLOUT) !== 0;
    const woken: Waiter[] = [];
    let kept = 0;
    for (const w of entry.waiters) {
      if (w.kind === "read" ? readable : writable) woken.push(w);
      else entry.waiters[kept++] = w;
    }
    entry.waiters.length = kept;
    const rest = entry.waiters;
    if (rest.length > 0) arm(fd, entry);
    const report = decode(events);
    for (const w of woken) settle(w, undefined, report);
  }
}

/**
 * Resolves when a descriptor is ready to read or write, without blocking the
 * event loop, with the events it reported (readable, writable, hang-up,
 * error). The descriptor should be non-blocking; after this resolves, make
 * the non-blocking call and wait again if it reports `EAGAIN` (another
 * reader may have been first). A hang-up or an error wakes readers and
 * writers alike.
 *
 * @example Waiting for an eventfd to be signalled
 * ```ts
 * import { libc, waitForDescriptor } from "@ipckit/ipc/ffi";
 *
 * const fd = libc().eventfd(0, 0x80800); // EFD_CLOEXEC | EFD_NONBLOCK
 * setTimeout(() => libc().write(fd, new BigUint64Array([1n]), 8), 10);
 * const events = await waitForDescriptor(fd, "read", { timeout: 1000 });
 * console.log(events.readable); // true
 * libc().close(fd);
 * ```
 *
 * @param fd The descriptor (any pollable one: pipe, socket, FIFO, mqd_t,
 *   eventfd, signalfd, timerfd).
 * @param kind `"read"` or `"write"`.
 * @param options Cancellation, timeout, and `unref`.
 * @returns A promise of the events the descriptor reported.
 * @throws {DOMException} `TimeoutError` after `timeout` ms, or the signal's
 *   reason when aborted.
 * @throws {IpcError} When the descriptor cannot be watched (`EBADF`,
 *   `EPERM` for a regular file).
 * @throws {Error} When the reactor's helper thread cannot run.
 */
export function waitForDescriptor(
  fd: number,
  kind: Readiness,
  options?: DescriptorWaitOptions,
): Promise<ReadyEvents> {
  if (options === undefined) options = {};
  const signal = checkSignal(options.signal);
  const timeout = checkTimeout(options.timeout);
  if (kind !== "read" && kind !== "write") {
    throw new TypeError(`kind must be "read" or "write", got ${String(kind)}`);
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  start();

  return new Promise<ReadyEvents>((resolve, reject) => {
    let cancelTimer = () => {};
    const cleanup = () => {
      cancelTimer();
      signal?.removeEventListener("abort", onAbort);
    };
    const waiter: Waiter = {
      kind,
      unref: options.unref === true,
      resolve: (events) => {
        cleanup();
        resolve(events);
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
    hold(waiter);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      cancelTimer = startTimer(timeout, () =>
        cancel(
          timeoutError(timeout, `descriptor ${fd}`),
        ), waiter.unref);
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
