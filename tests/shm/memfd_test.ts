import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { createMemfd, Memfd } from "../../shm/mod.ts";
import { fillPattern, patternByte } from "../helpers/shm_pattern.ts";
import { killPeers, RUNTIMES, startPeer, succeeded } from "../helpers/peer.ts";
import { assertIpcError } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/shm_peer.ts";

for (const runtime of RUNTIMES) {
  test(`createMemfd() hands sealed memory to a ${runtime} child as fd 3, which cannot shrink it`, async () => {
    using mem = createMemfd("ipckit-test", {
      size: 1 << 16,
      seal: { shrink: true, grow: true, write: true },
    });
    fillPattern(new Uint8Array(mem.buffer), 42);
    const child = startPeer(runtime, PEER, ["memfd", "42"], {
      fds: [mem.fd],
    });
    assert.deepEqual(JSON.parse(await succeeded(child)), {
      size: 1 << 16,
      pattern: "ok",
      seals: { shrink: true, grow: true, write: true, seal: false },
      shrink: "EPERM",
      grow: "EPERM",
      write: "EPERM",
    });
    // This handle's own mapping stays writable after the write seal
    // (F_SEAL_FUTURE_WRITE), and the write reaches the memory itself: a
    // second mapping of the same memfd sees it.
    const bytes = new Uint8Array(mem.buffer);
    assert.equal(bytes[0], patternByte(0, 42));
    bytes[0] = patternByte(0, 42) ^ 0xff;
    using again = Memfd.fromDescriptor(mem.dup());
    assert.equal(again.read(0, 1)[0], patternByte(0, 42) ^ 0xff);
    assert.equal(again.read(1, 1)[0], patternByte(1, 42));
  });
}

test("createMemfd() without seals lets the child resize; seals can be added later", async () => {
  using mem = createMemfd("ipckit-test", { size: 4096 });
  assert.deepEqual(mem.seals, {
    shrink: false,
    grow: false,
    write: false,
    seal: false,
  });
  fillPattern(new Uint8Array(mem.buffer), 1);
  mem.addSeals({ grow: true, seal: true });
  assert.deepEqual(mem.seals, {
    shrink: false,
    grow: true,
    write: false,
    seal: true,
  });
  assert.throws(
    () => mem.addSeals({ shrink: true }),
    assertIpcError("EPERM", "fcntl"),
  );
  const child = startPeer("bun", PEER, ["memfd", "1"], { fds: [mem.fd] });
  const got = JSON.parse(await succeeded(child));
  assert.equal(got.pattern, "ok");
  assert.equal(got.shrink, "ok");
  assert.equal(got.grow, "EPERM");
});

test("Memfd.inheritable toggles close-on-exec; fromDescriptor() adopts a descriptor", () => {
  using mem = createMemfd("ipckit-test", { size: 64 });
  assert.equal(mem.inheritable, false);
  mem.inheritable = true;
  assert.equal(mem.inheritable, true);
  mem.inheritable = false;
  assert.equal(mem.inheritable, false);
  using open = createMemfd("ipckit-test", { size: 64, closeOnExec: false });
  assert.equal(open.inheritable, true);
  mem.view(Int32Array)[3] = 17;
  using same = Memfd.fromDescriptor(mem.dup());
  assert.equal(same.view(Int32Array)[3], 17);
  assert.equal(same.name.startsWith("fd "), true);
});

test("createMemfd() rejects bad names and sizes; use after close throws EBADF", () => {
  assert.throws(() => createMemfd("a\0b", { size: 8 }), TypeError);
  assert.throws(
    () => createMemfd(5 as unknown as string, { size: 8 }),
    TypeError,
  );
  assert.throws(() => createMemfd("x".repeat(250), { size: 8 }), RangeError);
  for (const size of [0, -8, 0.5]) {
    assert.throws(() => createMemfd("x", { size }), RangeError);
  }
  assert.throws(() => Memfd.fromDescriptor(-1), RangeError);
  assert.throws(() => Memfd.fromDescriptor(99999), assertIpcError("EBADF"));
  const mem = createMemfd("x", { size: 8 });
  const bytes = new Uint8Array(mem.buffer);
  mem.close();
  mem.close();
  assert.equal(bytes.length, 0);
  for (
    const use of [
      () => mem.fd,
      () => mem.buffer,
      () => mem.seals,
      () => mem.dup(),
      () => mem.read(),
    ]
  ) {
    assert.throws(use, assertIpcError("EBADF"));
  }
});
