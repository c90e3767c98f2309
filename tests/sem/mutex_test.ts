import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { Condition, IpcError, Mutex } from "../../sem/mod.ts";
import { mapShared } from "../helpers/sem_memory.ts";
import {
  finished,
  killPeers,
  nextLine,
  startPeer,
  succeeded,
  testName,
} from "../helpers/peer.ts";
import { assertElapsed, assertIpcError, isTimeout } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/sem_peer.ts";

test("Mutex keeps a plain counter exact across 2 Deno + 2 Bun processes (80,000 locks)", async () => {
  const shm = testName();
  using memory = mapShared(shm, 4096, true);
  using _mutex = Mutex.init(memory.buffer, 0);
  const times = 20_000;
  const peers = [
    startPeer("deno", PEER, ["count", shm, `${times}`, "sync"]),
    startPeer("deno", PEER, ["count", shm, `${times}`, "async"]),
    startPeer("bun", PEER, ["count", shm, `${times}`, "sync"]),
    startPeer("bun", PEER, ["count", shm, `${times}`, "async"]),
  ];
  const outputs = await Promise.all(
    peers.map((p) => succeeded(p, { timeout: 50_000 })),
  );
  assert.deepEqual(outputs, ["done", "done", "done", "done"]);
  const results = await Promise.all(peers.map((p) => finished(p)));
  const contended = results.map((r) =>
    Number(/contended (\d+)/.exec(r.stderr)?.[1])
  );
  assert.ok(contended.some((n) => n > 0), `no lock contended: ${contended}`);
  console.log(`contended locks per peer: ${contended}`);
  assert.equal(new Int32Array(memory.buffer, 8, 1)[0], 4 * times);
  assert.equal(Atomics.load(new Int32Array(memory.buffer, 0, 1), 0), 0);
});

test("Mutex held by a process killed with SIGKILL is taken over with ownerDied", async () => {
  const shm = testName();
  using memory = mapShared(shm, 4096, true);
  using mutex = Mutex.init(memory.buffer, 0);
  const holder = startPeer("deno", PEER, ["hold", shm]);
  assert.equal(await nextLine(holder), "locked false");
  assert.equal(mutex.owner, holder.pid);
  assert.equal(mutex.tryLock(), undefined);
  assert.throws(() => mutex.unlock(), assertIpcError("EPERM"));
  await assert.rejects(mutex.lock({ timeout: 150 }), isTimeout);
  const waiting = mutex.lock({ timeout: 5000 });
  const start = performance.now();
  holder.kill("SIGKILL");
  using guard = await waiting;
  assertElapsed(start, 0, 1000);
  assert.equal((await finished(holder)).signal, "SIGKILL");
  assert.equal(guard.ownerDied, true);
  assert.equal(new Int32Array(memory.buffer, 8, 1)[0], 42);
  assert.equal(mutex.heldByMe, true);
  guard.unlock();
  using again = mutex.lockSync({ timeout: 100 });
  assert.equal(again.ownerDied, false);
});

test("Mutex.lockSync() recovers from a dead owner too", async () => {
  const shm = testName();
  using memory = mapShared(shm, 4096, true);
  using mutex = Mutex.init(memory.buffer, 0);
  const holder = startPeer("bun", PEER, ["hold", shm]);
  assert.equal(await nextLine(holder), "locked false");
  holder.kill("SIGKILL");
  assert.equal((await finished(holder)).signal, "SIGKILL");
  using guard = mutex.lockSync({ timeout: 2000 });
  assert.equal(guard.ownerDied, true);
});

test("Mutex.lockSync() by the holder fails with EDEADLK; unlock() when not held fails with EPERM", () => {
  using mutex = Mutex.init(new SharedArrayBuffer(8), 0);
  assert.throws(() => mutex.unlock(), assertIpcError("EPERM"));
  using guard = mutex.lockSync();
  assert.throws(
    () => mutex.lockSync({ timeout: 10 }),
    assertIpcError("EDEADLK"),
  );
  assert.equal(mutex.tryLock(), undefined);
  guard.unlock();
  guard.unlock();
  assert.equal(mutex.owner, 0);
});

test("Mutex.lock() queues calls of one thread, times out and honours abort", async () => {
  using mutex = Mutex.init(new SharedArrayBuffer(16), 8);
  const first = await mutex.lock();
  const order: number[] = [];
  const second = mutex.lock({ timeout: 2000 }).then((g) => {
    order.push(2);
    return g;
  });
  await assert.rejects(mutex.lock({ timeout: 30 }), isTimeout);
  const controller = new AbortController();
  const aborted = mutex.lock({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  order.push(1);
  first.unlock();
  (await second).unlock();
  assert.deepEqual(order, [1, 2]);
  assert.equal(mutex.owner, 0);
});

test("Mutex.init() rejects misaligned and out-of-range offsets; use after close; double close", () => {
  const memory = new SharedArrayBuffer(16);
  assert.throws(() => Mutex.init(memory, 2), RangeError);
  assert.throws(() => Mutex.init(memory, 4), RangeError);
  assert.throws(() => Mutex.init(memory, 16), RangeError);
  assert.throws(() => Mutex.at(memory, -8), RangeError);
  assert.throws(() => Mutex.at({} as ArrayBuffer, 0), TypeError);
  const mutex = Mutex.init(memory, 8);
  mutex.close();
  mutex.close();
  assert.throws(() => mutex.lockSync(), assertIpcError("EBADF"));
  assert.throws(() => mutex.tryLock(), assertIpcError("EBADF"));
});

test("Condition.wait() releases the mutex, wakes on notify and times out", async () => {
  const memory = new SharedArrayBuffer(20);
  using mutex = Mutex.init(memory, 0);
  using changed = Condition.init(memory, 8);
  const flag = new Int32Array(memory, 16, 1);
  setTimeout(() => {
    using _guard = mutex.lockSync();
    flag[0] = 1;
    changed.notifyAll();
  }, 20);
  using guard = await mutex.lock();
  while (flag[0] === 0) {
    assert.equal(await changed.wait(guard, { timeout: 2000 }), true);
  }
  assert.equal(mutex.heldByMe, true);
  assert.equal(await changed.wait(guard, { timeout: 20 }), false);
  assert.equal(changed.waitSync(guard, { timeout: 20 }), false);
  assert.equal(mutex.heldByMe, true);
  guard.unlock();
  await assert.rejects(changed.wait(guard), assertIpcError("EPERM"));
  assert.throws(() => changed.notify(0), RangeError);
  changed.close();
  assert.throws(() => changed.notify(), assertIpcError("EBADF"));
});

test("Mutex.close() rejects a pending lock() with EBADF", async () => {
  const memory = new SharedArrayBuffer(8);
  using holder = Mutex.init(memory, 0);
  using waiter = Mutex.at(memory, 0);
  using _held = holder.lockSync();
  const pending = waiter.lock({ timeout: 5000 });
  setTimeout(() => waiter.close(), 20);
  const start = performance.now();
  await assert.rejects(
    pending,
    (e) => e instanceof IpcError && e.code === "EBADF",
  );
  assertElapsed(start, 0, 1000);
});
