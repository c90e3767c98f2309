// The reactor thread under Bun (which has no asynchronous FFI): waits in
// epoll_wait on every descriptor the main thread armed, and posts back which
// registrations fired. It never reads or writes the descriptors: the main
// thread makes the non-blocking call itself, so errno is read on the thread
// that made the call.
import { parentPort, workerData } from "node:worker_threads";
import { errno, libc } from "./_libc.ts";
import { decodeEvents, epollEvents } from "./_epoll.ts";

const MAX_EVENTS = 64;
const EINTR = 4;
const buffer = epollEvents(MAX_EVENTS);
const epfd = (workerData as { epfd: number }).epfd;
const { epoll_wait } = libc();

for (;;) {
  const n = epoll_wait(epfd, buffer, MAX_EVENTS, -1);
  if (n < 0) {
    if (errno() === EINTR) continue;
    break; // the epoll descriptor is gone: nothing left to serve
  }
  parentPort!.postMessage(decodeEvents(buffer, n));
}
