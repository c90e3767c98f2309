// A worker that signals its own process (SIGUSR2) every ~2 ms until the
// shared flag is set, so the main thread's blocking calls see EINTR.
import { libc } from "../../ffi/mod.ts";

self.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  const flag = new Int32Array(event.data);
  const pid = libc().getpid();
  postMessage("started");
  while (Atomics.load(flag, 0) === 0) {
    libc().kill(pid, 12); // SIGUSR2
    Atomics.wait(flag, 0, 0, 2);
  }
  postMessage("stopped");
};
