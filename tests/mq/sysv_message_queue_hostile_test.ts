// SysvMessageQueue under hostile use: payloads of every kind, wrong types
// and numbers at every entry point, closed handles, huge timeouts, closing
// and removing while waits are pending, and many receivers on one queue.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { SysvMessageQueue } from "../../mq/mod.ts";
import {
  killPeers,
  outputUntil,
  RUNTIMES,
  startPeer,
} from "../helpers/peer.ts";
import { assertIpcError, outcomesOf } from "../helpers/assert.ts";

const PEER = "tests/mq/mq_test_peer.ts";

afterEach(killPeers);

const text = (data: Uint8Array) => new TextDecoder().decode(data);
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type ErrorClass = typeof TypeError | typeof RangeError;

/** An assert.throws() predicate: a TypeError whose message names `name`. */
function typeErrorNaming(name: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    assert.match(e.message, new RegExp(`\\b${name}\\b`));
    return true;
  };
}

/** A key no other test uses (never 0). */
function randomKey(): number {
  return 0x1c000000 + 1 + Math.floor(Math.random() * 0xfffffe);
}

test("SysvMessageQueue sends every byte of any ArrayBufferView or ArrayBuffer", async () => {
  using q = SysvMessageQueue.temporary();
  const backing = new Uint8Array(32).map((_, i) => i);
  const payloads: [string, unknown, number[]][] = [
    ["Int32Array", new Int32Array([1, 2]), [1, 0, 0, 0, 2, 0, 0, 0]],
    ["Float64Array", new Float64Array([1]), [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]],
    ["a DataView with an offset", new DataView(backing.buffer, 3, 4), [
      3,
      4,
      5,
      6,
    ]],
    ["an ArrayBuffer", backing.buffer.slice(0, 5), [0, 1, 2, 3, 4]],
  ];
  for (const [label, payload, bytes] of payloads) {
    const data = payload as Uint8Array;
    q.sendSync(1, data);
    assert.deepEqual([...q.receiveSync().data], bytes, `sendSync ${label}`);
    await q.send(2, data);
    assert.deepEqual([...(await q.receive()).data], bytes, `send ${label}`);
    assert.equal(q.trySend(3, data), true);
    assert.deepEqual([...q.tryReceive()!.data], bytes, `trySend ${label}`);
  }
  // Receiving into views of any kind, at their offsets.
  const words = new Uint32Array(4);
  q.sendSync(1, new Uint32Array([7, 8]));
  assert.deepEqual(q.receiveIntoSync(words), { type: 1, length: 8 });
  assert.deepEqual([...words], [7, 8, 0, 0]);
  const backing2 = new ArrayBuffer(16);
  q.sendSync(4, "abc");
  assert.equal(
    (await q.receiveInto(new DataView(backing2, 8, 8))).length,
    3,
  );
  assert.equal(text(new Uint8Array(backing2, 8, 3)), "abc");
  q.sendSync(5, "xy");
  assert.equal(q.tryReceiveInto(backing2)!.length, 2);
  assert.equal(text(new Uint8Array(backing2, 0, 2)), "xy");
});

test("SysvMessageQueue rejects payloads, buffers and arguments of the wrong type", async () => {
  using q = SysvMessageQueue.temporary();
  for (const bad of [42, { length: 1 }, null, undefined, [1, 2], true]) {
    const data = bad as Uint8Array;
    assert.throws(() => q.sendSync(1, data), typeErrorNaming("data"));
    assert.throws(() => q.trySend(1, data), typeErrorNaming("data"));
    await assert.rejects(q.send(1, data), typeErrorNaming("data"));
  }
  for (const bad of ["a string", 16, null, {}]) {
    const buffer = bad as Uint8Array;
    assert.throws(() => q.receiveIntoSync(buffer), typeErrorNaming("buffer"));
    assert.throws(() => q.tryReceiveInto(buffer), typeErrorNaming("buffer"));
    await assert.rejects(q.receiveInto(buffer), typeErrorNaming("buffer"));
  }
  const selections: [unknown, ErrorClass][] = [
    [{ type: "1" }, TypeError],
    [{ type: null }, TypeError],
    [{ type: NaN }, RangeError],
    [{ type: 2 ** 53 }, RangeError],
    [{ type: 1.5 }, RangeError],
    [{ type: 1, except: "yes" }, TypeError],
    [{ type: 0, except: true }, RangeError],
    [{ timeout: "10" }, TypeError],
    [{ timeout: NaN }, RangeError],
    [{ timeout: -1 }, RangeError],
    [null, TypeError],
    ["all", TypeError],
  ];
  for (const [options, kind] of selections) {
    const o = options as { type: number };
    assert.throws(() => q.receiveSync(o), kind, JSON.stringify(options));
    await assert.rejects(q.receive(o), kind, JSON.stringify(options));
    if ((options as { timeout?: unknown } | null)?.timeout === undefined) {
      assert.throws(() => q.tryReceive(o), kind, JSON.stringify(options));
    }
  }
  await assert.rejects(
    q.receive({ signal: {} as AbortSignal }),
    typeErrorNaming("signal"),
  );
  for (const [timeout, kind] of [["1", TypeError], [-5, RangeError]] as const) {
    const options = { timeout } as { timeout: number };
    assert.throws(() => q.sendSync(1, "x", options), kind);
    await assert.rejects(q.send(1, "x", options), kind);
  }
  assert.equal(q.attributes.currentMessages, 0);
});

test("SysvMessageQueue refuses a detached ArrayBuffer or a view of one", async () => {
  using q = SysvMessageQueue.temporary();
  const a = new ArrayBuffer(16);
  const b = new ArrayBuffer(16);
  const view = new Uint8Array(b);
  structuredClone([a, b], { transfer: [a, b] });
  for (const bad of [a, view]) {
    const data = bad as Uint8Array;
    assert.throws(() => q.sendSync(1, data), typeErrorNaming("data"));
    assert.throws(() => q.trySend(1, data), typeErrorNaming("data"));
    await assert.rejects(q.send(1, data), typeErrorNaming("data"));
    assert.throws(() => q.receiveIntoSync(bad), typeErrorNaming("buffer"));
    assert.throws(() => q.tryReceiveInto(bad), typeErrorNaming("buffer"));
    await assert.rejects(q.receiveInto(bad), typeErrorNaming("buffer"));
  }
  assert.equal(q.attributes.currentMessages, 0);
});

test("SysvMessageQueue statics and setAttributes() refuse bad arguments at the door", () => {
  const bad: [string, () => unknown, ErrorClass][] = [
    [
      "open(null)",
      () => SysvMessageQueue.open(null as unknown as number),
      TypeError,
    ],
    [
      "open(1n)",
      () => SysvMessageQueue.open(1n as unknown as number),
      TypeError,
    ],
    [
      "open(key, null)",
      () => SysvMessageQueue.open(randomKey(), null as unknown as object),
      TypeError,
    ],
    [
      "open create 'yes'",
      () =>
        SysvMessageQueue.open(randomKey(), {
          create: "yes" as unknown as boolean,
        }),
      TypeError,
    ],
    [
      "open mode NaN",
      () => SysvMessageQueue.open(randomKey(), { create: true, mode: NaN }),
      RangeError,
    ],
    [
      "open mode '600'",
      () =>
        SysvMessageQueue.open(randomKey(), {
          create: true,
          mode: "600" as unknown as number,
        }),
      TypeError,
    ],
    [
      "open access",
      () => SysvMessageQueue.open(randomKey(), { access: "rw" as "read" }),
      TypeError,
    ],
    [
      "private mode -1",
      () => SysvMessageQueue.private({ mode: -1 }),
      RangeError,
    ],
    [
      "private('x')",
      () => SysvMessageQueue.private("x" as unknown as object),
      TypeError,
    ],
    [
      "temporary mode 2**53",
      () => SysvMessageQueue.temporary({ mode: 2 ** 53 }),
      RangeError,
    ],
    [
      "fromId('1')",
      () => SysvMessageQueue.fromId("1" as unknown as number),
      TypeError,
    ],
    ["fromId(NaN)", () => SysvMessageQueue.fromId(NaN), RangeError],
    ["fromId(2**53)", () => SysvMessageQueue.fromId(2 ** 53), RangeError],
    [
      "remove(undefined)",
      () => SysvMessageQueue.remove(undefined as unknown as number),
      TypeError,
    ],
    ["remove(-1)", () => SysvMessageQueue.remove(-1), RangeError],
    [
      "keyFromPath(42)",
      () => SysvMessageQueue.keyFromPath(42 as unknown as string, 1),
      TypeError,
    ],
    ["keyFromPath('')", () => SysvMessageQueue.keyFromPath("", 1), TypeError],
    [
      "keyFromPath NUL",
      () => SysvMessageQueue.keyFromPath("/tmp\0x", 1),
      TypeError,
    ],
    [
      "keyFromPath project '1'",
      () => SysvMessageQueue.keyFromPath("/tmp", "1" as unknown as number),
      TypeError,
    ],
    [
      "keyFromPath project 1.5",
      () => SysvMessageQueue.keyFromPath("/tmp", 1.5),
      RangeError,
    ],
  ];
  for (const [label, call, kind] of bad) assert.throws(call, kind, label);
  assert.throws(
    () => SysvMessageQueue.keyFromPath("/no/such/ipckit/file", 1),
    assertIpcError("ENOENT", undefined, "/no/such/ipckit/file"),
  );
  using q = SysvMessageQueue.temporary();
  const changes: [unknown, ErrorClass][] = [
    [null, TypeError],
    ["big", TypeError],
    [{ maxBytes: "1" }, TypeError],
    [{ maxBytes: -1 }, RangeError],
    [{ maxBytes: 2 ** 32 }, RangeError],
    [{ uid: 1.5 }, RangeError],
    [{ gid: NaN }, RangeError],
    [{ mode: 0o1000 }, RangeError],
    [{ mode: "644" }, TypeError],
  ];
  for (const [change, kind] of changes) {
    assert.throws(
      () => q.setAttributes(change as object),
      kind,
      JSON.stringify(change),
    );
  }
});

test("SysvMessageQueue on a closed handle: every entry point fails with EBADF", async () => {
  const q = SysvMessageQueue.temporary();
  q.close();
  const buffer = new Uint8Array(16);
  const sync: [string, () => unknown][] = [
    ["sendSync", () => q.sendSync(1, "x")],
    ["sendSync with timeout", () => q.sendSync(1, "x", { timeout: 5 })],
    ["trySend", () => q.trySend(1, "x")],
    ["receiveSync", () => q.receiveSync()],
    ["receiveIntoSync", () => q.receiveIntoSync(buffer)],
    ["tryReceive", () => q.tryReceive()],
    ["tryReceiveInto", () => q.tryReceiveInto(buffer)],
    ["attributes", () => q.attributes],
    ["setAttributes", () => q.setAttributes({ maxBytes: 10 })],
    ["id", () => q.id],
    ["remove", () => q.remove()],
    ["trySend(1, 42)", () => q.trySend(1, 42 as unknown as string)],
  ];
  for (const [label, call] of sync) {
    assert.throws(call, assertIpcError("EBADF"), label);
  }
  await assert.rejects(q.send(1, "x"), assertIpcError("EBADF"));
  await assert.rejects(q.receive(), assertIpcError("EBADF"));
  await assert.rejects(q.receiveInto(buffer), assertIpcError("EBADF"));
});

test("SysvMessageQueue.receive() waits past 2^31-1 ms timeouts instead of expiring at once", async () => {
  using q = SysvMessageQueue.temporary();
  for (const timeout of [2 ** 31, 30 * 24 * 3600 * 1000]) {
    let settled = false;
    const receiving = q.receive({ timeout }).finally(() => (settled = true));
    await tick(30);
    assert.equal(settled, false, `receive({ timeout: ${timeout} }) ended`);
    q.sendSync(1, "late");
    assert.equal(text((await receiving).data), "late");
  }
});

test("SysvMessageQueue.receiveSync() waits past a 2^31 ms timeout (in a child process)", async () => {
  const q = SysvMessageQueue.private();
  try {
    for (const runtime of RUNTIMES) {
      const child = startPeer(runtime, PEER, [
        "sysv-receive-sync",
        String(q.id),
        String(2 ** 31),
      ]);
      await outputUntil(child, (lines) => lines.includes("waiting"));
      await tick(50);
      q.sendSync(1, `to ${runtime}`);
      const { lines, stderr } = await outputUntil(
        child,
        (lines) => lines.length > 1,
      );
      assert.equal(lines[1], `got to ${runtime}`, stderr);
    }
  } finally {
    q.remove();
    q.close();
  }
});

test("SysvMessageQueue.close() while send, receive and receiveInto are pending rejects them with EBADF", async () => {
  const q = SysvMessageQueue.private();
  const id = q.id;
  try {
    q.setAttributes({ maxBytes: 4 });
    q.sendSync(1, "full");
    const pending = outcomesOf({
      send: q.send(2, "more"),
      "send with timeout": q.send(2, "more", { timeout: 60_000 }),
      receive: q.receive({ type: 9 }),
      receiveInto: q.receiveInto(new Uint8Array(8), { type: 9 }),
    });
    await tick(20);
    const started = performance.now();
    q.close();
    const outcomes = await pending;
    assert.ok(performance.now() - started < 1000, "the waits noticed late");
    assert.deepEqual(outcomes.sort(), [
      "receive EBADF",
      "receiveInto EBADF",
      "send EBADF",
      "send with timeout EBADF",
    ]);
    // Nothing was taken or added after the close.
    using same = SysvMessageQueue.fromId(id);
    assert.equal(same.attributes.currentMessages, 1);
  } finally {
    try {
      SysvMessageQueue.remove(id);
    } catch { /* already removed */ }
  }
});

test("SysvMessageQueue delivers each message once to 20 pending receive() calls", async () => {
  using q = SysvMessageQueue.temporary();
  const receivers = Array.from(
    { length: 20 },
    () => q.receive({ timeout: 10_000 }),
  );
  await tick(5);
  for (let i = 0; i < 20; i++) await q.send(1, `m${i}`);
  const got = (await Promise.all(receivers)).map((m) => text(m.data));
  assert.deepEqual(
    got.sort(),
    Array.from({ length: 20 }, (_, i) => `m${i}`).sort(),
  );
  assert.equal(q.tryReceive(), undefined);
});
