// What makes the reactor's epoll_wait calls, per runtime.
//
// - Deno: a `nonblocking` FFI epoll_wait, which Deno runs on its blocking
//   thread pool and resolves on the main thread: one thread hop instead of
//   two (measured: a parked mq round trip 190 µs instead of 270-330 µs). Its
//   errno is lost, which is fine here: the result alone says how many events
//   fired, and -1 can only be EINTR on our own epoll descriptor.
// - Bun (no asynchronous FFI): a worker thread blocked in epoll_wait that
//   posts the fired events back.
//
// Either way, `ref()` when the first wait starts and `unref()` when the last
// ends: an idle reactor never keeps the process alive.
import { Worker } from "node:worker_threads";
import { backend, libc } from "./_libc.ts";
import { decodeEvents, encodeEvent, epollEvents } from "./_epoll.ts";
import { denoEpollWaitAsync } from "./_deno.ts";
import { type Keeper, repeatingCall } from "./_repeating_call.ts";

/** Keeps the reactor's wait running while there is something to wait for. */
export type ReactorDriver = Keeper;

const MAX_EVENTS = 64;
const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;
const EFD_CLOEXEC_NONBLOCK = 0x80800;

/** Starts the driver for `epfd`; `onFired` gets [token, events] pairs. */
export function startDriver(
  epfd: number,
  onFired: (fired: Uint32Array) => void,
): ReactorDriver {
  return backend().runtime === "deno"
    ? denoDriver(epfd, onFired)
    : workerDriver(epfd, onFired);
}

function workerDriver(
  epfd: number,
  onFired: (fired: Uint32Array) => void,
): ReactorDriver {
  const worker = new Worker(
    new URL("./_reactor_worker.ts", import.meta.url),
    { workerData: { epfd } },
  );
  worker.on("message", onFired);
  worker.unref();
  return { ref: () => worker.ref(), unref: () => worker.unref() };
}

function denoDriver(
  epfd: number,
  onFired: (fired: Uint32Array) => void,
): ReactorDriver {
  const epollWait = denoEpollWaitAsync();
  const events = epollEvents(MAX_EVENTS);
  // Writing this eventfd (token 0) makes an in-flight epoll_wait return, so
  // an idle reactor leaves no call behind to keep the process alive.
  const stopFd = libc().eventfd(0, EFD_CLOEXEC_NONBLOCK);
  const control = epollEvents(1);
  encodeEvent(control, EPOLLIN, 0);
  libc().epoll_ctl(epfd, EPOLL_CTL_ADD, stopFd, control);
  const counter = new BigUint64Array(1);
  return repeatingCall(
    () =>
      epollWait(epfd, events, MAX_EVENTS).then((n) => {
        if (n <= 0) return;
        libc().read(stopFd, counter, 8); // drain a stop request, if any
        onFired(decodeEvents(events, n));
      }),
    () => libc().write(stopFd, new BigUint64Array([1n]), 8),
  );
}
