import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SysvSemaphoreSet } from "../../sem/mod.ts";
import {
  CURRENT,
  IS_ROOT,
  killPeers,
  runPeerOk,
  testKey,
} from "../helpers/peer.ts";
import { assertElapsed, assertIpcError, isTimeout } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/sem_peer.ts";

test("SysvSemaphoreSet.operateSync() applies several operations atomically", () => {
  using set = SysvSemaphoreSet.temporary({ count: 3 });
  assert.equal(set.count, 3);
  assert.ok(readFileSync("/proc/sysvipc/sem", "utf8").includes(` ${set.id} `));
  set.setAll([1, 0, 5]);
  set.operateSync([{ index: 0, delta: -1 }, { index: 1, delta: 2 }]);
  assert.deepEqual(set.getAll(), [0, 2, 5]);
  // All or nothing: index 0 cannot go below 0, so index 2 is untouched.
  assert.equal(
    set.tryOperate([{ index: 2, delta: -1 }, { index: 0, delta: -1 }]),
    false,
  );
  assert.deepEqual(set.getAll(), [0, 2, 5]);
  assert.equal(set.tryOperate([{ index: 0, delta: 0 }]), true); // wait-for-zero
  set.set(2, 7);
  assert.equal(set.get(2), 7);
});

test("SysvSemaphoreSet.open() creates by key, honours exclusive and explains a missing key", () => {
  const key = testKey();
  assert.throws(
    () => SysvSemaphoreSet.open(key),
    (e) =>
      assertIpcError("ENOENT", "semget")(e) &&
      /create: true/.test((e as Error).message),
  );
  using set = SysvSemaphoreSet.open(key, {
    create: true,
    exclusive: true,
    count: 2,
  });
  try {
    assert.equal(set.key, key);
    using same = SysvSemaphoreSet.open(key);
    assert.equal(same.id, set.id);
    assert.equal(same.count, 2);
    assert.throws(
      () => SysvSemaphoreSet.open(key, { create: true, exclusive: true }),
      assertIpcError("EEXIST"),
    );
  } finally {
    set.remove();
  }
  // The id is gone: Linux answers a removed set's id with EINVAL.
  assert.throws(() => set.remove(), assertIpcError("EINVAL", "semctl"));
});

test("SysvSemaphoreSet rejects bad keys, counts, indexes, deltas and values", () => {
  assert.throws(() => SysvSemaphoreSet.open(0), RangeError);
  assert.throws(() => SysvSemaphoreSet.open(2 ** 32), RangeError);
  assert.throws(() => SysvSemaphoreSet.temporary({ count: 0 }), RangeError);
  assert.throws(() => SysvSemaphoreSet.temporary({ mode: 0o1000 }), RangeError);
  assert.throws(() => SysvSemaphoreSet.fromId(-1), RangeError);
  using set = SysvSemaphoreSet.temporary({ count: 2 });
  assert.throws(() => set.get(2), RangeError);
  assert.throws(() => set.set(0, -1), RangeError);
  assert.throws(() => set.set(0, 32768), RangeError);
  assert.throws(() => set.setAll([1]), RangeError);
  assert.throws(() => set.operateSync([]), RangeError);
  assert.throws(
    () => set.operateSync([{ index: 0, delta: 40000 }]),
    RangeError,
  );
  set.set(0, 32767);
  assert.throws(
    () => set.operateSync([{ index: 0, delta: 1 }]),
    assertIpcError("ERANGE", "semop"),
  );
});

test("SysvSemaphoreSet.operateSync() and operate() time out; operate() honours abort", async () => {
  using set = SysvSemaphoreSet.temporary();
  const start = performance.now();
  assert.throws(
    () => set.operateSync([{ index: 0, delta: -1 }], { timeout: 40 }),
    isTimeout,
  );
  assertElapsed(start, 35);
  await assert.rejects(
    set.operate([{ index: 0, delta: -1 }], { timeout: 30 }),
    isTimeout,
  );
  const controller = new AbortController();
  const pending = set.operate([{ index: 0, delta: -1 }], {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error("stop")), 10);
  await assert.rejects(pending, /stop/);
  setTimeout(() => set.set(0, 1), 10);
  await set.operate([{ index: 0, delta: -1 }], { timeout: 2000 });
  assert.equal(set.get(0), 0);
});

test("SysvSemaphoreSet SEM_UNDO gives back what a process took when it exits", async () => {
  using set = SysvSemaphoreSet.temporary();
  set.set(0, 1);
  const out = await runPeerOk(CURRENT, PEER, ["sysv-take", `${set.id}`]);
  assert.equal(out, "taken 0");
  assert.equal(set.get(0), 1);
});

test("SysvSemaphoreSet use after close and double close; temporary sets are removed", () => {
  const set = SysvSemaphoreSet.temporary();
  const id = set.id;
  set.close();
  set.close();
  assert.throws(() => set.get(0), assertIpcError("EBADF"));
  assert.throws(
    () => set.tryOperate([{ index: 0, delta: 1 }]),
    assertIpcError("EBADF"),
  );
  assert.throws(
    () => SysvSemaphoreSet.fromId(id),
    assertIpcError("EINVAL", "semctl"),
  );
});

test("SysvSemaphoreSet.open({ create: true }) removes the set it made when it cannot stat it", async () => {
  // Root reads any set whatever its mode: as root, run it as nobody.
  const out = await runPeerOk(
    CURRENT,
    PEER,
    ["sysv-unstatable", `${testKey()}`],
    IS_ROOT ? { user: "nobody" } : {},
  );
  assert.equal(out, "EACCES semctl, ENOENT semget");
});

test("SysvSemaphoreSet: messages name the set by its key, EBADF too", () => {
  const key = testKey();
  const set = SysvSemaphoreSet.open(key, { create: true, exclusive: true });
  const id = set.id;
  try {
    set.close();
    assert.throws(
      () => set.get(0),
      (e: Error) => e.message.includes(key.toString(16)),
    );
  } finally {
    SysvSemaphoreSet.remove(id);
  }
});
