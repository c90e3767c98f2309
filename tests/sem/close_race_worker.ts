// Worker for close_race_test.ts: on a start flag, takes the mutex (or not),
// waits 30 ms, then unlocks it (or posts the semaphore), while the main
// thread spins in lock()/acquire().
import { Mutex, Semaphore } from "../../sem/mod.ts";

declare const self: {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

self.onmessage = (e: MessageEvent) => {
  const { kind, buffer, flag } = e.data as {
    kind: "mutex" | "semaphore";
    buffer: SharedArrayBuffer;
    flag: Int32Array;
  };
  if (kind === "mutex") {
    using mutex = Mutex.at(buffer, 0);
    const guard = mutex.lockSync();
    self.postMessage("ready");
    Atomics.wait(flag, 0, 0);
    Atomics.wait(flag, 1, 0, 30);
    guard.unlock();
  } else {
    using s = Semaphore.at(buffer, 0);
    self.postMessage("ready");
    Atomics.wait(flag, 0, 0);
    Atomics.wait(flag, 1, 0, 30);
    s.post();
  }
  self.postMessage("done");
};
