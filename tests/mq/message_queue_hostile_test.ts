// MessageQueue under hostile use: payloads of every kind, wrong types and
// numbers at every entry point, closed handles, huge timeouts, closing while
// waits are pending, and many receivers on one queue.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { MessageQueue } from "../../mq/mod.ts";
import {
  CURRENT,
  killPeers,
  outputOf,
  outputUntil,
  RUNTIMES,
  startPeer,
  succeeded,
  testName,
} from "../helpers/peer.ts";
import {
  assertIpcError,
  isTimeout,
  outcomesOf,
  removeQuietly,
} from "../helpers/assert.ts";

const PEER = "tests/mq/mq_test_peer.ts";

afterEach(killPeers);

const text = (data: Uint8Array) => new TextDecoder().decode(data);
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An assert.throws() predicate: a TypeError whose message names `name`. */
function typeErrorNaming(name: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    assert.match(e.message, new RegExp(`\\b${name}\\b`));
    return true;
  };
}

/** The flags of an open description, from /proc/self/fdinfo. */
function descriptorFlags(fd: number): number {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  return parseInt(/^flags:\s*([0-7]+)/m.exec(info)![1], 8);
}
const O_NONBLOCK = 0o4000;

test("MessageQueue sends every byte of any ArrayBufferView or ArrayBuffer", async () => {
  using q = MessageQueue.temporary({ maxMessages: 8, messageSize: 64 });
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
    ["a Uint16Array with an offset", new Uint16Array(backing.buffer, 4, 2), [
      4,
      5,
      6,
      7,
    ]],
    ["a subarray", backing.subarray(10, 13), [10, 11, 12]],
    ["an ArrayBuffer", backing.buffer.slice(0, 5), [0, 1, 2, 3, 4]],
    ["a BigInt64Array", new BigInt64Array([-1n]), new Array(8).fill(255)],
  ];
  for (const [label, payload, bytes] of payloads) {
    const data = payload as Uint8Array;
    q.sendSync(data);
    assert.deepEqual([...q.receiveSync().data], bytes, `sendSync ${label}`);
    await q.send(data);
    assert.deepEqual([...(await q.receive()).data], bytes, `send ${label}`);
    assert.equal(q.trySend(data), true);
    assert.deepEqual([...q.tryReceive()!.data], bytes, `trySend ${label}`);
  }
});

test("MessageQueue receives into any ArrayBufferView or ArrayBuffer", async () => {
  using q = MessageQueue.temporary({ maxMessages: 8, messageSize: 16 });
  const words = new Uint32Array(4);
  q.sendSync(new Uint32Array([7, 8, 9, 10]));
  assert.deepEqual(q.receiveIntoSync(words), { length: 16, priority: 0 });
  assert.deepEqual([...words], [7, 8, 9, 10]);
  const floats = new Float64Array(2);
  q.sendSync(new Float64Array([0.5, -2]));
  assert.equal((await q.receiveInto(floats)).length, 16);
  assert.deepEqual([...floats], [0.5, -2]);
  // A view with an offset is filled at its offset, not at the buffer's start.
  const backing = new ArrayBuffer(24);
  const view = new DataView(backing, 8, 16);
  q.sendSync("abc");
  assert.equal(q.tryReceiveInto(view)!.length, 3);
  assert.deepEqual([...new Uint8Array(backing, 6, 6)], [0, 0, 97, 98, 99, 0]);
  const raw = new ArrayBuffer(16);
  q.sendSync("xyz");
  assert.equal(q.receiveIntoSync(raw).length, 3);
  assert.equal(text(new Uint8Array(raw, 0, 3)), "xyz");
  // Size counts bytes, not elements: 3 floats are 24 bytes, enough here.
  assert.throws(() => q.tryReceiveInto(new Uint16Array(7)), RangeError);
});

test("MessageQueue rejects payloads and buffers of the wrong type with a TypeError naming them", async () => {
  using q = MessageQueue.temporary({ maxMessages: 4, messageSize: 16 });
  for (const bad of [42, { length: 1 }, null, undefined, [1, 2], true, 1n]) {
    const data = bad as Uint8Array;
    assert.throws(() => q.sendSync(data), typeErrorNaming("data"));
    assert.throws(() => q.trySend(data), typeErrorNaming("data"));
    await assert.rejects(q.send(data), typeErrorNaming("data"));
  }
  for (const bad of ["a string", 16, null, {}, [0, 0]]) {
    const buffer = bad as Uint8Array;
    assert.throws(() => q.receiveIntoSync(buffer), typeErrorNaming("buffer"));
    assert.throws(() => q.tryReceiveInto(buffer), typeErrorNaming("buffer"));
    await assert.rejects(q.receiveInto(buffer), typeErrorNaming("buffer"));
  }
  assert.equal(q.attributes.currentMessages, 0);
});

/** A detached ArrayBuffer and a view of another one. */
function detached(): [ArrayBuffer, Uint8Array] {
  const a = new ArrayBuffer(16);
  const b = new ArrayBuffer(16);
  const view = new Uint8Array(b, 4, 8);
  structuredClone([a, b], { transfer: [a, b] });
  return [a, view];
}

test("MessageQueue refuses a detached ArrayBuffer or a view of one (never an empty message)", async () => {
  using q = MessageQueue.temporary({ maxMessages: 4, messageSize: 16 });
  for (const bad of detached()) {
    const data = bad as Uint8Array;
    assert.throws(() => q.sendSync(data), typeErrorNaming("data"));
    assert.throws(() => q.trySend(data), typeErrorNaming("data"));
    await assert.rejects(q.send(data), typeErrorNaming("data"));
    q.sendSync("x");
    assert.throws(() => q.receiveIntoSync(bad), typeErrorNaming("buffer"));
    assert.throws(() => q.tryReceiveInto(bad), typeErrorNaming("buffer"));
    await assert.rejects(q.receiveInto(bad), typeErrorNaming("buffer"));
    assert.equal(text(q.receiveSync().data), "x");
  }
  assert.equal(q.attributes.currentMessages, 0);
});

test("MessageQueue.open() refuses bad names and options at the door", () => {
  const bad: [unknown, unknown, typeof TypeError | typeof RangeError][] = [
    ["", undefined, TypeError],
    ["/", undefined, RangeError],
    ["/a\0b", undefined, TypeError],
    ["/\0", undefined, TypeError],
    ["/" + "x".repeat(299), undefined, RangeError],
    [42, undefined, TypeError],
    [null, undefined, TypeError],
    [undefined, undefined, TypeError],
    ["/ok", null, TypeError],
    ["/ok", "create", TypeError],
    ["/ok", [true], TypeError],
    ["/ok", { create: "yes" }, TypeError],
    ["/ok", { create: true, exclusive: 1 }, TypeError],
    ["/ok", { create: true, mode: "600" }, TypeError],
    ["/ok", { create: true, mode: NaN }, RangeError],
    ["/ok", { create: true, mode: -1 }, RangeError],
    ["/ok", { create: true, mode: 1.5 }, RangeError],
    ["/ok", { create: true, mode: 0o1000 }, RangeError],
    ["/ok", { create: true, mode: 2 ** 53 }, RangeError],
    ["/ok", { create: true, maxMessages: "10" }, TypeError],
    ["/ok", { create: true, maxMessages: NaN }, RangeError],
    ["/ok", { create: true, maxMessages: 0 }, RangeError],
    ["/ok", { create: true, maxMessages: -1 }, RangeError],
    ["/ok", { create: true, maxMessages: 2.5 }, RangeError],
    ["/ok", { create: true, maxMessages: 2 ** 53 }, RangeError],
    ["/ok", { create: true, maxMessages: 1e300 }, RangeError],
    ["/ok", { create: true, maxMessages: Infinity }, RangeError],
    ["/ok", { create: true, messageSize: null }, TypeError],
    ["/ok", { create: true, messageSize: 2 ** 32 }, RangeError],
    ["/ok", { create: true, access: "both" }, TypeError],
    ["/ok", { create: true, access: 2 }, TypeError],
    ["/ok", { create: true, spin: "50" }, TypeError],
    ["/ok", { create: true, spin: -1 }, RangeError],
    ["/ok", { create: true, spin: NaN }, RangeError],
    ["/ok", { create: true, spin: 2e6 }, RangeError],
  ];
  for (const [name, options, kind] of bad) {
    assert.throws(
      () => MessageQueue.open(name as string, options as object),
      kind,
      `open(${String(name).slice(0, 10)}, ${JSON.stringify(options)})`,
    );
  }
  for (const [name, , kind] of bad.slice(0, 8)) {
    assert.throws(() => MessageQueue.unlink(name as string), kind);
  }
  for (const [, options, kind] of bad.slice(8)) {
    // temporary() sets create and exclusive itself.
    const o = options as { create?: unknown; exclusive?: unknown };
    if (o?.create === "yes" || o?.exclusive === 1) continue;
    assert.throws(() => MessageQueue.temporary(options as object), kind);
  }
  // Nothing was created along the way.
  assert.throws(() => MessageQueue.open("/ok"), assertIpcError("ENOENT"));
});

test("MessageQueue refuses bad priorities, timeouts and signals without sending or taking", async () => {
  using q = MessageQueue.temporary({ maxMessages: 4, messageSize: 16 });
  q.sendSync("keep");
  const badPriorities: [unknown, typeof TypeError | typeof RangeError][] = [
    ["1", TypeError],
    [null, TypeError],
    [NaN, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [32768, RangeError],
    [2 ** 53, RangeError],
  ];
  for (const [priority, kind] of badPriorities) {
    const options = { priority } as { priority: number };
    assert.throws(() => q.sendSync("x", options), kind);
    assert.throws(() => q.trySend("x", options), kind);
    await assert.rejects(q.send("x", options), kind);
  }
  const badTimeouts: [unknown, typeof TypeError | typeof RangeError][] = [
    ["100", TypeError],
    [null, TypeError],
    [true, TypeError],
    [NaN, RangeError],
    [-1, RangeError],
    [-Infinity, RangeError],
  ];
  const buffer = new Uint8Array(16);
  for (const [timeout, kind] of badTimeouts) {
    const options = { timeout } as { timeout: number };
    assert.throws(() => q.sendSync("x", options), kind);
    assert.throws(() => q.receiveSync(options), kind);
    assert.throws(() => q.receiveIntoSync(buffer, options), kind);
    await assert.rejects(q.send("x", options), kind);
    await assert.rejects(q.receive(options), kind);
    await assert.rejects(q.receiveInto(buffer, options), kind);
    await assert.rejects(q.waitForMessage(options), kind);
  }
  for (const options of [null, "fast", 5, [1]]) {
    const o = options as unknown as { timeout: number };
    assert.throws(() => q.receiveSync(o), typeErrorNaming("options"));
    await assert.rejects(q.receive(o), typeErrorNaming("options"));
  }
  const signal = { signal: "abort" as unknown as AbortSignal };
  await assert.rejects(q.receive(signal), typeErrorNaming("signal"));
  await assert.rejects(q.send("x", signal), typeErrorNaming("signal"));
  await assert.rejects(q.waitForMessage(signal), typeErrorNaming("signal"));
  // Nothing was sent or taken by the refused calls.
  assert.equal(q.attributes.currentMessages, 1);
  assert.equal(text(q.receiveSync().data), "keep");
});

test("MessageQueue on a closed handle: every entry point fails with EBADF", async () => {
  const q = MessageQueue.temporary({ maxMessages: 2, messageSize: 16 });
  q.close();
  const buffer = new Uint8Array(16);
  const sync: [string, () => unknown][] = [
    ["sendSync", () => q.sendSync("x")],
    ["trySend", () => q.trySend("x")],
    ["receiveSync", () => q.receiveSync()],
    ["receiveIntoSync", () => q.receiveIntoSync(buffer)],
    ["tryReceive", () => q.tryReceive()],
    ["tryReceiveInto", () => q.tryReceiveInto(buffer)],
    ["attributes", () => q.attributes],
    ["fd", () => q.fd],
    // Closed wins over a bad argument.
    ["sendSync(42)", () => q.sendSync(42 as unknown as string)],
  ];
  for (const [label, call] of sync) {
    assert.throws(call, assertIpcError("EBADF"), label);
  }
  const async: [string, () => Promise<unknown>][] = [
    ["send", () => q.send("x")],
    ["receive", () => q.receive()],
    ["receiveInto", () => q.receiveInto(buffer)],
    ["waitForMessage", () => q.waitForMessage()],
  ];
  for (const [label, call] of async) {
    await assert.rejects(call(), assertIpcError("EBADF"), label);
  }
  const seen = [];
  for await (const m of q) seen.push(m);
  assert.equal(seen.length, 0);
});

test("MessageQueue.receive() and send() wait past 2^31-1 ms timeouts instead of expiring at once", async () => {
  using q = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  for (const timeout of [2 ** 31, 30 * 24 * 3600 * 1000, 2 ** 53]) {
    let settled = false;
    const receiving = q.receive({ timeout }).finally(() => (settled = true));
    const watching = q.waitForMessage({ timeout });
    await tick(30);
    assert.equal(settled, false, `receive({ timeout: ${timeout} }) ended`);
    q.sendSync("late");
    assert.equal(text((await receiving).data), "late");
    await watching;
    // A full queue: send() waits just as long.
    q.sendSync("fill");
    let sent = false;
    const sending = q.send("more", { timeout }).then(() => (sent = true));
    await tick(30);
    assert.equal(sent, false, `send({ timeout: ${timeout} }) ended`);
    q.receiveSync();
    await sending;
    q.receiveSync();
  }
});

test("MessageQueue.receiveSync() waits past a 2^31 ms timeout (in a child process)", async () => {
  const name = testName();
  try {
    using q = MessageQueue.open(name, { create: true });
    for (const runtime of RUNTIMES) {
      const child = startPeer(runtime, PEER, [
        "receive-sync",
        name,
        String(2 ** 31),
      ]);
      await outputUntil(child, (lines) => lines.includes("waiting"));
      await tick(50);
      q.sendSync(`to ${runtime}`);
      const { lines, stderr } = await outputUntil(
        child,
        (lines) => lines.length > 1,
      );
      assert.equal(lines[1], `got to ${runtime}`, stderr);
      await succeeded(child);
    }
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

test("MessageQueue.receiveSync() without a timeout blocks until a message comes (in a child process)", async () => {
  const name = testName();
  try {
    using q = MessageQueue.open(name, { create: true });
    const child = startPeer(CURRENT, PEER, ["receive-sync", name, "none"]);
    await outputUntil(child, (lines) => lines.includes("waiting"));
    await tick(100);
    assert.equal(
      outputOf(child).lines.length,
      1,
      "receiveSync() returned early",
    );
    q.sendSync("wake up");
    const { lines, stderr } = await outputUntil(
      child,
      (lines) => lines.length > 1,
    );
    assert.equal(lines[1], "got wake up", stderr);
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

test("MessageQueue keeps its descriptor non-blocking through blocking calls", async () => {
  using q = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  const fd = q.fd;
  assert.notEqual(descriptorFlags(fd) & O_NONBLOCK, 0);
  // Each kind of call, including the blocking ones that wait.
  q.sendSync("a");
  assert.throws(() => q.sendSync("b", { timeout: 20 }), isTimeout);
  q.receiveSync();
  assert.throws(() => q.receiveSync({ timeout: 20 }), isTimeout);
  setTimeout(() => q.sendSync("c"), 20);
  await q.receive({ timeout: 5000 });
  q.sendSync("d");
  const buffer = new Uint8Array(16);
  q.receiveIntoSync(buffer);
  // A forked child or another process sharing this description would see
  // the mode change; there is none to see.
  assert.notEqual(descriptorFlags(fd) & O_NONBLOCK, 0);
});

test("MessageQueue Sync forms block on their own description and close() closes it too", () => {
  const name = testName();
  // Descriptors of this queue (their links read "/<name>", maybe "(deleted)").
  const open = () =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).split(" ")[0] === name;
      } catch {
        return false; // closed meanwhile (the directory's own descriptor)
      }
    }).length;
  const before = open();
  const q = MessageQueue.open(name, {
    create: true,
    maxMessages: 2,
    messageSize: 16,
  });
  try {
    // Unlinked: the blocking description is a reopening of the handle's
    // own descriptor, not of the name.
    MessageQueue.unlink(name);
    q.sendSync("one");
    assert.equal(text(q.receiveSync().data), "one");
    assert.equal(open(), 2, "the handle and its blocking twin");
    assert.notEqual(descriptorFlags(q.fd) & O_NONBLOCK, 0);
  } finally {
    q.close();
    removeQuietly(() => MessageQueue.unlink(name));
  }
  assert.equal(open(), before);
  assert.equal(before, 0);
});

test("MessageQueue.close() while send, receive and waitForMessage are pending rejects them with EBADF", async () => {
  const full = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  const empty = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  full.sendSync("fill");
  const pending = outcomesOf({
    send: full.send("more"),
    "send with timeout": full.send("more", { timeout: 60_000 }),
    receive: empty.receive(),
    receiveInto: empty.receiveInto(new Uint8Array(16)),
    waitForMessage: empty.waitForMessage({ timeout: 60_000 }),
  });
  await tick(20);
  const fds = [full.fd, empty.fd];
  full.close();
  empty.close();
  // New queues now likely reuse the closed descriptors' numbers: the
  // pending calls must not touch them.
  using a = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  using b = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  b.sendSync("not yours");
  const outcomes = await pending;
  assert.deepEqual(outcomes.sort(), [
    "receive EBADF",
    "receiveInto EBADF",
    "send EBADF",
    "send with timeout EBADF",
    "waitForMessage EBADF",
  ]);
  assert.deepEqual(
    [a.attributes.currentMessages, b.attributes.currentMessages],
    [0, 1],
    `descriptors ${fds} were reused as ${[a.fd, b.fd]}`,
  );
});

test("MessageQueue delivers each message once to 20 pending receive() calls", async () => {
  using q = MessageQueue.temporary({ maxMessages: 10, messageSize: 16 });
  const receivers = Array.from(
    { length: 20 },
    () => q.receive({ timeout: 10_000 }),
  );
  await tick(10);
  for (let i = 0; i < 20; i++) await q.send(`m${i}`);
  const got = (await Promise.all(receivers)).map((m) => text(m.data));
  assert.deepEqual(
    got.sort(),
    Array.from({ length: 20 }, (_, i) => `m${i}`).sort(),
  );
  assert.equal(q.tryReceive(), undefined);
});

test("MessageQueue delivers each message once to consumers in 2 Deno and 1 Bun processes", async () => {
  const name = testName();
  const count = 600;
  try {
    using q = MessageQueue.open(name, {
      create: true,
      maxMessages: 10,
      messageSize: 64,
    });
    const consumers = (["deno", "deno", "bun"] as const).map((runtime) =>
      startPeer(runtime, PEER, ["consume", name, "1"])
    );
    for (const c of consumers) {
      await outputUntil(c, (lines) => lines.includes("ready"));
    }
    const message = new Uint32Array(2);
    for (let seq = 0; seq < count; seq++) {
      message[1] = seq;
      await q.send(message, { timeout: 20_000 });
    }
    message[0] = 0xffffffff;
    for (let i = 0; i < consumers.length; i++) {
      await q.send(message, { timeout: 20_000 });
    }
    const seen = new Map<string, number>();
    for (const [i, c] of consumers.entries()) {
      await outputUntil(c, (lines) => lines.includes("stopped"));
      await succeeded(c);
      for (
        const line of outputOf(c).lines.filter((l) => l.startsWith("got "))
      ) {
        for (const id of line.slice(4).split(" ")) {
          assert.ok(!seen.has(id), `${id} taken by ${seen.get(id)} and ${i}`);
          seen.set(id, i);
        }
      }
    }
    assert.equal(seen.size, count);
    // The consumers shared the work (all were waiting when it began).
    assert.ok(new Set(seen.values()).size >= 2, "one consumer took everything");
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});
