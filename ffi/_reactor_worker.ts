// The reactor thread: waits in epoll_wait on every descriptor the main thread
// armed, and posts back which registrations fired. It never reads or writes
// the descriptors: the main thread makes the non-blocking call itself, so
// errno is read on the thread that made the call.
import { parentPort, workerData } from "node:worker_threads";
import { ARCH, errno, libc } from "./_libc.ts";

const MAX_EVENTS = 64;
const EINTR = 4;
const size = ARCH.epollEventSize;
const dataOffset = size === 12 ? 4 : 8;
const buffer = new Uint8Array(MAX_EVENTS * size);
const view = new DataView(buffer.buffer);
const epfd = (workerData as { epfd: number }).epfd;
const { epoll_wait } = libc();

for (;;) {
  const n = epoll_wait(epfd, buffer, MAX_EVENTS, -1);
  if (n < 0) {
    if (errno() === EINTR) continue;
    break; // the epoll descriptor is gone: nothing left to serve
  }
  const fired = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    fired[2 * i] = view.getUint32(i * size + dataOffset, true);
    fired[2 * i + 1] = view.getUint32(i * size, true);
  }
  parentPort!.postMessage(fired);
}
