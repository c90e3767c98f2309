// A close() that runs after a wait took the lock (or value) but before the
// caller's continuation: the caller must get EBADF and the lock (value)
// must be given back, not left held by a closed handle. The main thread
// spins (synchronously, inside the wait) while a worker lets go; close()
// then runs in the same tick the wait succeeded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Mutex, Semaphore } from "../../sem/mod.ts";

const MULTI_CPU = navigator.hardwareConcurrency > 1;

function nextMessage(worker: Worker, want: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: MessageEvent) => {
      if (e.data !== want) return;
      worker.removeEventListener("message", on);
      resolve();
    };
    worker.addEventListener("message", on);
  });
}

async function race(
  kind: "mutex" | "semaphore",
  buffer: SharedArrayBuffer,
  wait: () => Promise<unknown>,
  close: () => void,
): Promise<void> {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    new URL("./close_race_worker.ts", import.meta.url),
    { type: "module" },
  );
  try {
    const ready = nextMessage(worker, "ready");
    const done = nextMessage(worker, "done");
    worker.postMessage({ kind, buffer, flag });
    await ready;
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const pending = wait(); // spins until the worker lets go
    close();
    await assert.rejects(pending, { code: "EBADF" });
    await done;
  } finally {
    worker.terminate();
  }
}

test("Mutex.lock(): closed as its wait succeeds, unlocks and rejects EBADF", {
  skip: !MULTI_CPU && "spinning needs two CPUs",
}, async () => {
  const buffer = new SharedArrayBuffer(8);
  const mutex = Mutex.init(buffer, 0, { spin: 1_000_000 });
  await race("mutex", buffer, () => mutex.lock(), () => mutex.close());
  using again = Mutex.at(buffer, 0);
  assert.equal(again.owner, 0);
});

for (const method of ["wait", "acquire"] as const) {
  test(
    `Semaphore.${method}(): closed as it succeeds, posts back and rejects EBADF`,
    {
      skip: !MULTI_CPU && "spinning needs two CPUs",
    },
    async () => {
      const buffer = new SharedArrayBuffer(32);
      const s = Semaphore.init(buffer, 0, { value: 0, spin: 1_000_000 });
      await race("semaphore", buffer, () => s[method](), () => s.close());
      using again = Semaphore.at(buffer, 0);
      assert.equal(again.value, 1);
    },
  );
}
