import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { FileLock, SharedMemory } from "../../shm/mod.ts";
import {
  CURRENT,
  finished,
  killPeers,
  nextLine,
  startPeer,
  testDir,
} from "../helpers/peer.ts";
import { assertElapsed, assertIpcError } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/shm_peer.ts";

/** Whether `promise` settled within `ms` (it is left running either way). */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

async function withFile(
  run: (path: string) => Promise<void> | void,
): Promise<void> {
  const dir = testDir("lock");
  try {
    await run(join(dir, "records"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("FileLock fcntl ranges: exclusive excludes, shared share, disjoint ranges coexist", () =>
  withFile((path) => {
    using a = FileLock.open(path, { create: true });
    using b = FileLock.open(path);
    const first = a.tryLock({ start: 0, length: 100 })!;
    assert.ok(first);
    assert.equal(b.tryLock({ start: 50, length: 10 }), undefined);
    assert.deepEqual(b.holder({ start: 0, length: 10 }), {
      exclusive: true,
      start: 0,
      length: 100,
    });
    using _other = b.tryLock({ start: 100, length: 100 })!;
    assert.ok(_other);
    first.release();
    first.release();
    assert.equal(b.holder({ start: 0, length: 100 }), undefined);
    using _r1 = a.lockSync({ exclusive: false, length: 10 });
    using _r2 = b.lockSync({ exclusive: false, length: 10 });
    assert.equal(
      b.tryLock({ length: 10 }),
      undefined,
      "a's shared lock blocks b's exclusive",
    );
  }));

test("FileLock flock: whole file, shared and exclusive; ranges are refused", () =>
  withFile((path) => {
    using a = FileLock.open(path, { mechanism: "flock", create: true });
    using b = FileLock.open(path, { mechanism: "flock" });
    using c = FileLock.open(path, { mechanism: "flock" });
    // Shared: a and b both hold one; c's exclusive is refused.
    const shared = a.tryLock({ exclusive: false })!;
    assert.equal(shared.exclusive, false);
    const alsoShared = b.tryLock({ exclusive: false })!;
    assert.equal(alsoShared.exclusive, false);
    assert.equal(
      c.tryLock(),
      undefined,
      "shared locks refuse an exclusive one",
    );
    shared.release();
    assert.equal(c.tryLock(), undefined, "b still holds a shared lock");
    alsoShared.release();
    // Exclusive: c holds it; neither a shared nor an exclusive lock is given.
    const exclusive = c.tryLock()!;
    assert.equal(exclusive.exclusive, true);
    assert.equal(a.tryLock({ exclusive: false }), undefined);
    assert.equal(a.tryLock(), undefined);
    assert.equal(b.tryLock({ exclusive: false }), undefined);
    exclusive.release();
    const after = a.tryLock();
    assert.equal(after?.exclusive, true, "released, it can be taken");
    after!.release();
    assert.throws(() => a.tryLock({ start: 5 }), TypeError);
    assert.throws(() => a.holder(), TypeError);
  }));

test("FileLock.lock() times out, honours abort, and never blocks the event loop", () =>
  withFile(async (path) => {
    using a = FileLock.open(path, { create: true });
    using b = FileLock.open(path);
    using _held = a.lockSync();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const start = performance.now();
    await assert.rejects(
      b.lock({ timeout: 150 }),
      (e) => (e as Error).name === "TimeoutError",
    );
    clearInterval(ticker);
    assertElapsed(start, 140, 1000);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran`);
    assert.throws(
      () => b.lockSync({ timeout: 50 }),
      (e) => (e as Error).name === "TimeoutError",
    );
    const controller = new AbortController();
    const waiting = b.lock({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("stop")), 30);
    await assert.rejects(waiting, /stop/);
    await assert.rejects(
      b.lock({ signal: AbortSignal.abort() }),
      (e) => (e as Error).name === "AbortError",
    );
  }));

test("FileLock.lock() waits while the range is held and gets it when the holder releases it", () =>
  withFile(async (path) => {
    using a = FileLock.open(path, { create: true });
    using b = FileLock.open(path);
    const held = a.lockSync({ start: 8, length: 8 });
    const start = performance.now();
    const waiting = b.lock({ start: 0, length: 16, timeout: 5000 });
    assert.equal(await settlesWithin(waiting, 100), false, "b waits");
    const released = performance.now();
    held.release();
    using guard = await waiting;
    assertElapsed(start, 100, 2000);
    assertElapsed(released, 0, 1000);
    assert.equal(guard.exclusive, true);
    // b holds it now: a's overlapping lock is refused.
    assert.equal(a.tryLock({ start: 15, length: 1 }), undefined);
    assert.deepEqual(a.holder({ start: 0, length: 16 }), {
      exclusive: true,
      start: 0,
      length: 16,
    });
  }));

test("FileLock.close() rejects a pending lock() with EBADF", () =>
  withFile(async (path) => {
    using a = FileLock.open(path, { create: true });
    const b = FileLock.open(path);
    using _held = a.lockSync();
    const waiting = b.lock({ timeout: 5000 });
    assert.equal(await settlesWithin(waiting, 50), false, "b waits");
    const closed = performance.now();
    b.close();
    await assert.rejects(
      waiting,
      (e) => assertIpcError("EBADF")(e) && /closed/.test(String(e)),
    );
    assertElapsed(closed, 0, 1000);
  }));

test("FileLock rejects bad options; use after close throws EBADF; double close is a no-op", () =>
  withFile(async (path) => {
    assert.throws(() => FileLock.open(""), TypeError);
    assert.throws(
      () => FileLock.open(path, { mechanism: "lockf" as "flock" }),
      TypeError,
    );
    assert.throws(
      () => FileLock.open(path, { create: false }),
      assertIpcError("ENOENT", "open"),
    );
    assert.throws(() => FileLock.fromDescriptor(-3), RangeError);
    const file = FileLock.open(path, { create: true });
    assert.throws(() => file.tryLock({ start: -1 }), RangeError);
    assert.throws(() => file.tryLock({ length: 1.5 }), RangeError);
    const guard = file.lockSync();
    file.close();
    file.close();
    guard.release(); // no-op after close
    assert.throws(
      () => file.tryLock(),
      (e) => assertIpcError("EBADF")(e) && /closed/.test(String(e)),
    );
    assert.throws(() => file.lockSync(), assertIpcError("EBADF"));
    await assert.rejects(file.lock(), assertIpcError("EBADF"));
    using again = FileLock.open(path);
    assert.ok(again.tryLock(), "closing released the lock");
  }));

test("FileLock.fromDescriptor() locks a shared memory object and releases on close", () => {
  using shm = SharedMemory.temporary({ size: 4096 });
  using other = SharedMemory.open(shm.name);
  const a = FileLock.fromDescriptor(shm.fd);
  using b = FileLock.fromDescriptor(other.fd);
  a.lockSync({ length: 64 });
  assert.equal(b.tryLock({ length: 64 }), undefined);
  a.close();
  assert.equal(shm.closed, false, "the descriptor stays open");
  assert.ok(b.tryLock({ length: 64 }));
});

test("FileLock.fromDescriptor() of a read-only descriptor refuses an exclusive fcntl lock up front; a bad signal is a TypeError", async () => {
  using shm = SharedMemory.temporary({ size: 4096 });
  using readOnly = SharedMemory.open(shm.name, { access: "read" });
  using locks = FileLock.fromDescriptor(readOnly.fd);
  assert.throws(
    () => locks.tryLock(),
    (e) => assertIpcError("EBADF")(e) && /read-only/.test(String(e)),
  );
  using shared = locks.tryLock({ exclusive: false });
  assert.ok(shared);
  await assert.rejects(
    locks.lock({ exclusive: false, signal: "stop" as unknown as AbortSignal }),
    TypeError,
  );
});

for (const mechanism of ["fcntl", "flock"] as const) {
  test(`FileLock (${mechanism}) held by a peer is released when the peer is SIGKILLed`, () =>
    withFile(async (path) => {
      const other = CURRENT === "deno" ? "bun" : "deno";
      using mine = FileLock.open(path, { mechanism, create: true });
      const child = startPeer(other, PEER, ["lock", path, mechanism, "0", "0"]);
      assert.equal(await nextLine(child), "locked");
      assert.equal(mine.tryLock(), undefined);
      // Waiting: the peer's lock holds it off until the peer dies.
      const waiting = mine.lock({ timeout: 5000 });
      assert.equal(await settlesWithin(waiting, 150), false, "still held");
      const killed = performance.now();
      child.kill("SIGKILL");
      using guard = await waiting;
      assertElapsed(killed, 0, 2000);
      assert.equal(guard.exclusive, true);
      assert.equal((await finished(child)).signal, "SIGKILL");
      // Ours now: another open file description is refused.
      using rival = FileLock.open(path, { mechanism });
      assert.equal(rival.tryLock({ exclusive: false }), undefined);
    }));
}
