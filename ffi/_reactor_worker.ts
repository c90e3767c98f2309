// The reactor thread under Bun (which has no asynchronous FFI): waits in
// epoll_wait on every descriptor the main thread armed, and posts back which
// registrations fired. It never reads or writes the descriptors: the main
// thread makes the non-blocking call itself, so errno is read on the thread
// that made the call. Started by _bun_worker.ts.
import { errno, libc } from "./_libc.ts";
import { decodeEvents, epollEvents } from "./_epoll.ts";

const MAX_EVENTS = 64;
const EINTR = 4;

/** Serves `epfd` until it is closed; `post` sends [token, events] pairs. */
export function runReactor(
  epfd: number,
  post: (fired: Uint32Array) => void,
): void {
  const buffer = epollEvents(MAX_EVENTS);
  const { epoll_wait } = libc();
  for (;;) {
    const n = epoll_wait(epfd, buffer, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno() === EINTR) continue;
      return; // the epoll descriptor is gone: nothing left to serve
    }
    post(decodeEvents(buffer, n));
  }
}
