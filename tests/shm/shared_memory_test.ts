import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { SharedMemory } from "../../shm/mod.ts";
import { fillPattern, patternMismatch } from "../helpers/shm_pattern.ts";
import {
  CURRENT,
  killPeers,
  nextLine,
  ROOT,
  rootTest,
  runPeerOk,
  RUNTIMES,
  startPeer,
  succeeded,
  testName,
} from "../helpers/peer.ts";
import { assertIpcError, removeQuietly } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/shm_peer.ts";
const MB = 1 << 20;

test("SharedMemory.open() creates, reopens and honours exclusive", () => {
  const name = testName();
  try {
    using a = SharedMemory.open(name, {
      create: true,
      exclusive: true,
      size: 4096,
    });
    assert.equal(a.size, 4096);
    assert.equal(statSync(`/dev/shm${name}`).size, 4096);
    assert.equal(statSync(`/dev/shm${name}`).mode & 0o777, 0o600);
    using b = SharedMemory.open(name);
    new Uint8Array(a.buffer)[100] = 77;
    assert.equal(new Uint8Array(b.buffer)[100], 77);
    using c = SharedMemory.open(name, { create: true, size: 4096 });
    assert.equal(c.read(100, 1)[0], 77);
    assert.throws(
      () =>
        SharedMemory.open(name, { create: true, exclusive: true, size: 4096 }),
      assertIpcError("EEXIST", "shm_open", name),
    );
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
});

test("SharedMemory.open() explains a missing object and a size that does not match", () => {
  const name = testName();
  assert.throws(() => SharedMemory.open(name), (e) => {
    assertIpcError("ENOENT", "shm_open")(e);
    assert.match(
      (e as Error).message,
      /^Cannot open shared memory "\/ipckit_test_\w+": ENOENT \(No such file or directory\).*create: true/,
    );
    return true;
  });
  try {
    SharedMemory.open(name, { create: true, size: 8192 }).close();
    assert.throws(
      () => SharedMemory.open(name, { size: 4096 }),
      (e) =>
        assertIpcError("EINVAL")(e) && /8192 bytes, not 4096/.test(String(e)),
    );
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
  assert.equal(existsSync(`/dev/shm${name}`), false);
});

test("SharedMemory.open() rejects bad names, sizes and modes before any syscall", () => {
  assert.throws(() => SharedMemory.open("frame"), TypeError);
  assert.throws(() => SharedMemory.open("/a/b"), TypeError);
  assert.throws(() => SharedMemory.open("/a\0b"), TypeError);
  assert.throws(() => SharedMemory.open(7 as unknown as string), TypeError);
  assert.throws(() => SharedMemory.open("/"), RangeError);
  assert.throws(() => SharedMemory.open("/" + "x".repeat(256)), RangeError);
  assert.throws(() => SharedMemory.unlink("frame"), TypeError);
  const name = testName();
  assert.throws(() => SharedMemory.open(name, { create: true }), TypeError);
  for (const size of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(
      () => SharedMemory.open(name, { create: true, size }),
      RangeError,
    );
    assert.throws(() => SharedMemory.temporary({ size }), RangeError);
  }
  assert.throws(
    () => SharedMemory.temporary({ size: 8, mode: 0o10000 }),
    RangeError,
  );
  assert.throws(
    () => SharedMemory.open(name, { access: "write" as "read" }),
    TypeError,
  );
  assert.equal(existsSync(`/dev/shm${name}`), false);
});

test("SharedMemory.unlink() twice fails with ENOENT the second time", () => {
  const name = testName();
  SharedMemory.open(name, { create: true, size: 16 }).close();
  SharedMemory.unlink(name);
  assert.throws(
    () => SharedMemory.unlink(name),
    assertIpcError("ENOENT", "shm_unlink"),
  );
});

test("SharedMemory.view() checks alignment and range", () => {
  using shm = SharedMemory.temporary({ size: 64 });
  assert.equal(shm.view(Int32Array).length, 16);
  assert.equal(shm.view(Float64Array, 56).length, 1);
  assert.equal(shm.view(BigInt64Array, 8, 2).length, 2);
  assert.equal(shm.view(Uint8Array, 64).length, 0);
  assert.throws(() => shm.view(Int32Array, 2), /not aligned for Int32Array/);
  assert.throws(() => shm.view(Float64Array, 4), RangeError);
  assert.throws(() => shm.view(Int32Array, -4), RangeError);
  assert.throws(() => shm.view(Int32Array, 68), RangeError);
  assert.throws(() => shm.view(Int32Array, 1.5), RangeError);
  assert.throws(() => shm.view(Int32Array, 0, 17), /out of range/);
  assert.throws(() => shm.view(Int32Array, 60, 2), RangeError);
  assert.throws(() => shm.view(Int32Array, 0, -1), RangeError);
  assert.throws(() => shm.read(60, 5), RangeError);
  assert.throws(() => shm.read(65), RangeError);
  const words = shm.view(Int32Array, 8, 2);
  Atomics.add(words, 1, 5);
  assert.deepEqual([...shm.read(12, 4)], [5, 0, 0, 0]);
});

test("SharedMemory use after close throws EBADF; old buffers are detached; double close is a no-op", () => {
  const shm = SharedMemory.temporary({ size: 4096 });
  const buffer = shm.buffer;
  const bytes = new Uint8Array(buffer);
  bytes[0] = 1;
  shm.close();
  shm.close();
  assert.equal(shm.closed, true);
  assert.equal(buffer.byteLength, 0);
  assert.equal(bytes.length, 0);
  bytes[0] = 9; // ignored, no crash
  assert.equal(bytes[0], undefined);
  for (
    const use of [
      () => shm.buffer,
      () => shm.size,
      () => shm.fd,
      () => shm.view(Int32Array),
      () => shm.read(),
      () => shm.resize(8192),
      () => shm.remap(),
    ]
  ) {
    assert.throws(
      use,
      (e) => assertIpcError("EBADF")(e) && /closed/.test(String(e)),
    );
  }
  assert.equal(existsSync(`/dev/shm${shm.name}`), false);
});

test("SharedMemory.resize() grows and shrinks; other handles remap to see it", () => {
  using a = SharedMemory.temporary({ size: 4096 });
  using b = SharedMemory.open(a.name);
  const old = a.view(Int32Array);
  old[10] = 123;
  a.resize(3 * 4096);
  assert.equal(old.length, 0, "the old view is detached");
  assert.equal(a.size, 3 * 4096);
  assert.equal(a.view(Int32Array)[10], 123);
  assert.equal(b.size, 4096);
  assert.equal(b.remap(), 3 * 4096);
  b.view(Int32Array)[2000] = 7;
  assert.equal(a.view(Int32Array)[2000], 7);
  a.resize(100);
  assert.equal(b.remap(), 100);
  assert.equal(b.view(Int32Array, 40)[0], 123);
  assert.throws(() => a.resize(0), RangeError);
});

test('SharedMemory with access: "read" has no writable buffer, but reads', () => {
  using rw = SharedMemory.temporary({ size: 16 });
  fillPattern(new Uint8Array(rw.buffer), 3);
  using ro = SharedMemory.open(rw.name, { access: "read" });
  assert.throws(() => ro.buffer, /read-only/);
  assert.throws(() => ro.view(Uint8Array), TypeError);
  assert.equal(patternMismatch(ro.read(), 3), "");
  const target = new Uint8Array(20);
  assert.equal(ro.readInto(target, 4), 12);
});

for (const writer of RUNTIMES) {
  for (const reader of RUNTIMES) {
    test(`SharedMemory carries 1 MB byte-exact from ${writer} to ${reader}`, async () => {
      const name = testName();
      const seed = Math.floor(Math.random() * 256);
      try {
        SharedMemory.open(name, { create: true, exclusive: true, size: MB })
          .close();
        const w = await runPeerOk(writer, PEER, ["write", name, String(seed)]);
        assert.equal(w, "done");
        const r = await runPeerOk(reader, PEER, [
          "read",
          name,
          String(MB),
          String(seed),
        ]);
        assert.equal(r, "ok");
      } finally {
        removeQuietly(() => SharedMemory.unlink(name));
      }
    });
  }
}

test(`SharedMemory in ${CURRENT} reads what Python's multiprocessing.shared_memory wrote`, async () => {
  const name = testName();
  const seed = 99;
  const child = startPeer("exec", "python3", [
    `${ROOT}tests/helpers/shm_peer.py`,
    "create-write",
    name.slice(1),
    String(MB),
    String(seed),
  ]);
  try {
    assert.equal(await nextLine(child), "ready");
    using shm = SharedMemory.open(name, { size: MB });
    assert.equal(patternMismatch(new Uint8Array(shm.buffer), seed), "");
    child.stdin!.end("\n");
    assert.equal(await succeeded(child), "ready");
    assert.equal(existsSync(`/dev/shm${name}`), true, "python left it alone");
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
});

test(`SharedMemory in ${CURRENT} writes what Python's multiprocessing.shared_memory reads`, async () => {
  const name = testName();
  const seed = 7;
  try {
    using shm = SharedMemory.open(name, { create: true, size: MB });
    fillPattern(new Uint8Array(shm.buffer), seed);
    const r = await runPeerOk("exec", "python3", [
      `${ROOT}tests/helpers/shm_peer.py`,
      "read",
      name,
      String(MB),
      String(seed),
    ]);
    assert.equal(r, "ok");
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
});

rootTest(
  "SharedMemory permissions apply to an unprivileged peer (EACCES on 0600)",
  "switching to nobody",
  async () => {
    const name = testName();
    const other = CURRENT === "deno" ? "bun" : "deno";
    try {
      SharedMemory.open(name, { create: true, size: 4096, mode: 0o600 })
        .close();
      const denied = await runPeerOk(other, PEER, ["open", name, "read"], {
        user: "nobody",
      });
      assert.equal(denied, "EACCES");
      SharedMemory.unlink(name);
      SharedMemory.open(name, { create: true, size: 4096, mode: 0o644 })
        .close();
      const reader = await runPeerOk(other, PEER, ["open", name, "read"], {
        user: "nobody",
      });
      assert.equal(reader, "opened");
      const writer = await runPeerOk(other, PEER, [
        "open",
        name,
        "read-write",
      ], { user: "nobody" });
      assert.equal(writer, "EACCES");
    } finally {
      removeQuietly(() => SharedMemory.unlink(name));
    }
  },
);
