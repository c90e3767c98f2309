import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SysvSharedMemory } from "../../shm/mod.ts";
import { fillPattern } from "../helpers/shm_pattern.ts";
import { killPeers, runPeerOk, RUNTIMES } from "../helpers/peer.ts";
import { assertIpcError } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/shm_peer.ts";

function listed(id: number): boolean {
  return readFileSync("/proc/sysvipc/shm", "utf8").split("\n").slice(1)
    .some((l) => l.trim().split(/\s+/)[1] === String(id));
}

function randomKey(): number {
  return 0x1c000000 + Math.floor(Math.random() * 0xffffff);
}

test("SysvSharedMemory.open() creates by key, reattaches, honours exclusive, removes", () => {
  const key = randomKey();
  using a = SysvSharedMemory.open(key, {
    create: true,
    exclusive: true,
    size: 10_000,
    mode: 0o640,
  });
  try {
    assert.equal(a.size, 10_000);
    assert.equal(a.key, key);
    using b = SysvSharedMemory.open(key);
    assert.equal(b.id, a.id);
    a.view(Int32Array)[5] = 99;
    assert.equal(b.view(Int32Array)[5], 99);
    const attrs = a.attributes;
    assert.equal(attrs.size, 10_000);
    assert.equal(attrs.mode, 0o640);
    assert.equal(attrs.attachCount, 2);
    assert.equal(attrs.creatorPid, process.pid);
    assert.equal(attrs.removed, false);
    assert.throws(
      () =>
        SysvSharedMemory.open(key, { create: true, exclusive: true, size: 16 }),
      assertIpcError("EEXIST", "shmget"),
    );
    assert.throws(
      () => SysvSharedMemory.open(key, { size: 20_000 }),
      assertIpcError("EINVAL"),
    );
  } finally {
    a.remove();
  }
  assert.equal(a.attributes.removed, true);
  assert.throws(
    () => SysvSharedMemory.open(key),
    assertIpcError("ENOENT", "shmget"),
  );
  a.close();
  assert.equal(listed(a.id), false);
});

test("SysvSharedMemory rejects bad keys, sizes and ids; use after close throws EBADF", () => {
  for (const key of [0, 1.5, 2 ** 32, -(2 ** 31) - 1, NaN]) {
    assert.throws(() => SysvSharedMemory.open(key), RangeError);
  }
  assert.throws(
    () => SysvSharedMemory.open(randomKey(), { create: true }),
    TypeError,
  );
  for (const size of [0, -1, 1.5]) {
    assert.throws(() => SysvSharedMemory.temporary({ size }), RangeError);
  }
  assert.throws(
    () => SysvSharedMemory.temporary({ size: 8, mode: 0o1777 }),
    RangeError,
  );
  assert.throws(
    () => SysvSharedMemory.open(randomKey()),
    assertIpcError("ENOENT"),
  );
  assert.throws(() => SysvSharedMemory.fromId(-1), RangeError);
  assert.throws(
    () => SysvSharedMemory.remove(2 ** 30),
    assertIpcError("EINVAL", "shmctl"),
  );
  const seg = SysvSharedMemory.temporary({ size: 64 });
  const words = seg.view(Int32Array);
  assert.throws(() => seg.view(Int32Array, 2), RangeError);
  seg.close();
  seg.close();
  assert.equal(words.length, 0);
  assert.equal(
    listed(seg.id),
    false,
    "a temporary segment is removed on close",
  );
  for (
    const use of [
      () => seg.buffer,
      () => seg.size,
      () => seg.attributes,
      () => seg.remove(),
    ]
  ) {
    assert.throws(use, assertIpcError("EBADF"));
  }
  assert.throws(
    () => SysvSharedMemory.fromId(seg.id),
    assertIpcError("EINVAL"),
  );
});

for (const runtime of RUNTIMES) {
  test(`SysvSharedMemory private segment is read by id from ${runtime}`, async () => {
    const seg = SysvSharedMemory.private({ size: 1 << 20 });
    try {
      fillPattern(new Uint8Array(seg.buffer), 11);
      const r = await runPeerOk(runtime, PEER, [
        "sysv-read",
        String(seg.id),
        "11",
      ]);
      assert.equal(r, "ok");
      assert.equal(seg.attributes.lastPid !== process.pid, true);
    } finally {
      seg.remove();
      seg.close();
    }
    assert.equal(listed(seg.id), false);
  });
}

test("SysvSharedMemory.keyFromPath() computes ftok keys", () => {
  const key = SysvSharedMemory.keyFromPath("/tmp", 1);
  assert.equal(key >>> 24, 1);
  assert.throws(() => SysvSharedMemory.keyFromPath("/tmp", 0), RangeError);
  assert.throws(() => SysvSharedMemory.keyFromPath("/tmp", 256), RangeError);
});
