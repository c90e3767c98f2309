// A worker that signals its own process (SIGUSR2) every ~2 ms until the
// shared flag is set, so the main thread's blocking calls see EINTR.
import { libc } from "../../ffi/mod.ts";

// The worker's global scope, declared here so the file type-checks without
// the web worker library.
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<SharedArrayBuffer>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (event) => {
  const flag = new Int32Array(event.data);
  const pid = libc().getpid();
  scope.postMessage("started");
  while (Atomics.load(flag, 0) === 0) {
    libc().kill(pid, 12); // SIGUSR2
    Atomics.wait(flag, 0, 0, 2);
  }
  scope.postMessage("stopped");
};
