import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SysvMessageQueue } from "../../mq/sysv_message_queue.ts";
import { IpcError } from "../../ffi/mod.ts";
import {
  buildC,
  hasExited,
  killPeers,
  nextLine,
  rootTest,
  runPeerOk,
  RUNTIMES,
  startPeer,
  succeeded,
  testKey,
} from "../helpers/peer.ts";
import {
  assertDomError,
  assertElapsed,
  assertIpcError,
} from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/sysv_peer.ts";
const decoder = new TextDecoder();
const text = (data: Uint8Array) => decoder.decode(data);
const msgmax = Number(readFileSync("/proc/sys/kernel/msgmax", "utf8"));

/** Removes a queue if it still exists, and closes the handle. */
function cleanup(q: SysvMessageQueue | undefined, id?: number): void {
  const target = id ?? (q && !q.closed ? q.id : undefined);
  if (target !== undefined) {
    try {
      SysvMessageQueue.remove(target);
    } catch { /* already removed */ }
  }
  q?.close();
}

/** The bytes message `i` of `size` carries in the C peer's pattern. */
function pattern(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (i * 7 + j) & 0xff;
  return bytes;
}

test("SysvMessageQueue.sendSync() and receiveSync() carry bytes, strings and types", () => {
  const q = SysvMessageQueue.private();
  try {
    q.sendSync(1, new Uint8Array([0, 1, 2, 255]));
    q.sendSync(7, "héllo");
    q.sendSync(Number.MAX_SAFE_INTEGER, "big type");
    q.sendSync(3, new Uint8Array(0));
    const a = q.receiveSync();
    assert.equal(a.type, 1);
    assert.deepEqual(a.data, new Uint8Array([0, 1, 2, 255]));
    const b = q.receiveSync();
    assert.equal(b.type, 7);
    assert.equal(text(b.data), "héllo");
    const c = q.receiveSync();
    assert.equal(c.type, Number.MAX_SAFE_INTEGER);
    const d = q.receiveSync({ timeout: 100 });
    assert.equal(d.type, 3);
    assert.equal(d.data.length, 0);
    assert.equal(q.tryReceive(), undefined);
  } finally {
    cleanup(q);
  }
});

test("SysvMessageQueue.receive() selects by type", async () => {
  using q = SysvMessageQueue.temporary();
  for (const [type, body] of [[5, "a5"], [3, "b3"], [5, "c5"], [1, "d1"]]) {
    q.sendSync(type as number, body as string);
  }
  // > 0: the first message of exactly that type.
  assert.equal(text((await q.receive({ type: 5 })).data), "a5");
  // < 0: the first message of the lowest type <= |type|.
  const low = await q.receive({ type: -4 });
  assert.deepEqual([low.type, text(low.data)], [1, "d1"]);
  // except: the first message whose type differs.
  const other = q.tryReceive({ type: 3, except: true });
  assert.deepEqual([other?.type, text(other!.data)], [5, "c5"]);
  // 0: the first message in the queue.
  assert.equal(text(q.receiveSync({ type: 0 }).data), "b3");
  assert.equal(q.tryReceive({ type: -100 }), undefined);
});

test("SysvMessageQueue.tryReceive() returns undefined when no message matches", () => {
  using q = SysvMessageQueue.temporary();
  assert.equal(q.tryReceive(), undefined);
  q.sendSync(2, "two");
  assert.equal(q.tryReceive({ type: 1 }), undefined);
  assert.equal(q.tryReceive({ type: -1 }), undefined);
  assert.equal(q.tryReceive({ type: 2, except: true }), undefined);
  assert.equal(q.tryReceive({ type: 2 })?.type, 2);
});

test("SysvMessageQueue.receiveInto() forms fill the caller's buffer", async () => {
  using q = SysvMessageQueue.temporary();
  const buffer = new Uint8Array(16);
  q.sendSync(4, "sync");
  assert.deepEqual(q.receiveIntoSync(buffer), { type: 4, length: 4 });
  assert.equal(text(buffer.subarray(0, 4)), "sync");
  setTimeout(() => q.sendSync(6, "async"), 5);
  assert.deepEqual(await q.receiveInto(buffer, { timeout: 2000 }), {
    type: 6,
    length: 5,
  });
  assert.equal(text(buffer.subarray(0, 5)), "async");
  assert.equal(q.tryReceiveInto(buffer), undefined);
  q.sendSync(8, "x".repeat(17));
  // Too long for the buffer: E2BIG, and the message stays queued.
  assert.throws(() => q.tryReceiveInto(buffer), assertIpcError("E2BIG"));
  assert.equal(q.attributes.currentMessages, 1);
  const big = new Uint8Array(msgmax);
  assert.deepEqual(q.tryReceiveInto(big, { type: 8 }), {
    type: 8,
    length: 17,
  });
  assert.throws(
    () => q.tryReceiveInto([1, 2] as unknown as Uint8Array),
    TypeError,
  );
});

test("SysvMessageQueue.attributes reports counts, bytes, limits and pids", () => {
  using q = SysvMessageQueue.temporary({ mode: 0o640 });
  const empty = q.attributes;
  assert.equal(empty.key, 0);
  assert.equal(empty.mode, 0o640);
  assert.equal(empty.uid, process.getuid!());
  assert.equal(empty.currentMessages, 0);
  assert.equal(empty.currentBytes, 0);
  assert.equal(
    empty.maxBytes,
    Number(readFileSync("/proc/sys/kernel/msgmnb", "utf8")),
  );
  assert.equal(empty.lastSendPid, 0);
  assert.equal(empty.lastSendTime, undefined);
  assert.equal(empty.lastReceiveTime, undefined);
  // Set when the queue was made, a moment ago (the kernel keeps seconds).
  assert.ok(empty.changeTime instanceof Date);
  assert.ok(
    Math.abs(empty.changeTime.getTime() - Date.now()) < 5000,
    `changeTime ${empty.changeTime.toISOString()}`,
  );
  q.sendSync(1, "12345");
  q.sendSync(2, "678");
  q.receiveSync({ type: 2 });
  const after = q.attributes;
  assert.equal(after.currentMessages, 1);
  assert.equal(after.currentBytes, 5);
  assert.equal(after.lastSendPid, process.pid);
  assert.equal(after.lastReceivePid, process.pid);
  assert.ok(after.lastSendTime instanceof Date);
  assert.ok(Math.abs(after.lastSendTime.getTime() - Date.now()) < 5000);
  q.setAttributes({ maxBytes: 100, mode: 0o600 });
  assert.equal(q.attributes.maxBytes, 100);
  assert.equal(q.attributes.mode, 0o600);
  assert.throws(() => q.setAttributes({ maxBytes: -1 }), RangeError);
  assert.throws(() => q.setAttributes({ mode: 0o1777 }), RangeError);
});

test("SysvMessageQueue.trySend() returns false when the queue is full", () => {
  using q = SysvMessageQueue.temporary();
  q.setAttributes({ maxBytes: 10 });
  assert.equal(q.trySend(1, "12345"), true);
  assert.equal(q.trySend(1, "67890"), true);
  assert.equal(q.trySend(1, "x"), false);
  assert.equal(q.attributes.currentMessages, 2);
  q.receiveSync();
  assert.equal(q.trySend(1, "abcde"), true);
});

test("SysvMessageQueue.send() waits for room and sendSync() times out", async () => {
  using q = SysvMessageQueue.temporary();
  q.setAttributes({ maxBytes: 4 });
  q.sendSync(1, "full");
  const started = performance.now();
  assert.throws(
    () => q.sendSync(2, "more", { timeout: 50 }),
    assertDomError("TimeoutError"),
  );
  assertElapsed(started, 45, 500);
  setTimeout(() => q.tryReceive(), 20);
  await q.send(2, "next", { timeout: 2000 });
  assert.equal(text(q.receiveSync().data), "next");
  q.sendSync(3, "late");
  const again = performance.now();
  await assert.rejects(
    q.send(3, "more", { timeout: 30 }),
    assertDomError("TimeoutError"),
  );
  assertElapsed(again, 29, 500);
});

test("SysvMessageQueue.send() rejects data larger than msgmax or maxBytes", async () => {
  using q = SysvMessageQueue.temporary();
  const tooBig = new Uint8Array(msgmax + 1);
  assert.throws(() => q.trySend(1, tooBig), assertIpcError("EMSGSIZE"));
  assert.throws(() => q.sendSync(1, tooBig), (e: unknown) => {
    assert.ok(e instanceof IpcError && e.code === "EMSGSIZE");
    assert.match(e.message, /msgmax/);
    return true;
  });
  await assert.rejects(q.send(1, tooBig), assertIpcError("EMSGSIZE"));
  // Exactly msgmax bytes is fine.
  q.sendSync(1, new Uint8Array(msgmax).fill(9));
  const got = q.receiveSync();
  assert.equal(got.data.length, msgmax);
  assert.equal(got.data[msgmax - 1], 9);
  // Larger than the queue's capacity: it could never fit, so no waiting.
  q.setAttributes({ maxBytes: 8 });
  assert.equal(q.trySend(1, "123456789"), false);
  assert.throws(() => q.sendSync(1, "123456789"), (e: unknown) => {
    assert.ok(e instanceof IpcError && e.code === "EMSGSIZE");
    assert.match(e.message, /maxBytes/);
    return true;
  });
  await assert.rejects(q.send(1, "123456789"), assertIpcError("EMSGSIZE"));
});

test("SysvMessageQueue.send() rejects a type that is not a positive integer", async () => {
  using q = SysvMessageQueue.temporary();
  for (const type of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => q.sendSync(type, "x"), RangeError);
    assert.throws(() => q.trySend(type, "x"), RangeError);
    await assert.rejects(q.send(type, "x"), RangeError);
  }
  // Not a number at all: a TypeError naming the parameter.
  for (const type of ["1", null, undefined, 1n] as unknown[]) {
    const named = (e: unknown) =>
      e instanceof TypeError && /type/.test(e.message);
    assert.throws(() => q.sendSync(type as number, "x"), named);
    assert.throws(() => q.trySend(type as number, "x"), named);
    await assert.rejects(q.send(type as number, "x"), named);
  }
  assert.throws(() => q.trySend(1, 42 as unknown as string), TypeError);
  assert.throws(() => q.tryReceive({ type: 1.5 }), RangeError);
  assert.throws(() => q.tryReceive({ type: 0, except: true }), RangeError);
  assert.throws(() => q.receiveSync({ timeout: -1 }), RangeError);
  assert.equal(q.attributes.currentMessages, 0);
});

test("SysvMessageQueue.open() validates the key and honours create and exclusive", () => {
  for (const key of [0, 1.5, 2 ** 32, -(2 ** 31) - 1, NaN]) {
    assert.throws(() => SysvMessageQueue.open(key), RangeError);
  }
  assert.throws(
    () => SysvMessageQueue.open("5" as unknown as number),
    TypeError,
  );
  assert.throws(
    () => SysvMessageQueue.open(testKey(), { create: true, mode: 0o1000 }),
    RangeError,
  );
  const key = testKey();
  assert.throws(() => SysvMessageQueue.open(key), assertIpcError("ENOENT"));
  let q: SysvMessageQueue | undefined;
  try {
    q = SysvMessageQueue.open(key, { create: true, exclusive: true });
    assert.equal(q.key, key);
    assert.equal(q.attributes.key, key);
    assert.throws(
      () => SysvMessageQueue.open(key, { create: true, exclusive: true }),
      assertIpcError("EEXIST"),
    );
    using again = SysvMessageQueue.open(key);
    assert.equal(again.id, q.id);
    using byId = SysvMessageQueue.fromId(q.id);
    assert.equal(byId.key, key);
  } finally {
    cleanup(q);
  }
  // A key above 2**31 is the same key as its signed 32-bit twin.
  const high = testKey(true);
  let h: SysvMessageQueue | undefined;
  try {
    h = SysvMessageQueue.open(high, { create: true });
    assert.equal(h.key, high);
    using signed = SysvMessageQueue.open(high | 0);
    assert.equal(signed.id, h.id);
  } finally {
    cleanup(h);
  }
});

test("SysvMessageQueue.fromId() rejects bad and unknown ids", () => {
  for (const id of [-1, 1.5, 2 ** 31]) {
    assert.throws(() => SysvMessageQueue.fromId(id), RangeError);
  }
  const q = SysvMessageQueue.private();
  const id = q.id;
  q.remove();
  q.close();
  assert.throws(() => SysvMessageQueue.fromId(id), assertIpcError("EINVAL"));
});

test("SysvMessageQueue.receive() times out within tolerance", async () => {
  using q = SysvMessageQueue.temporary();
  for (const timeout of [0, 30, 100]) {
    const started = performance.now();
    await assert.rejects(
      q.receive({ timeout }),
      assertDomError("TimeoutError"),
    );
    assertElapsed(started, timeout - 1, timeout + 200);
  }
  // A message that arrives in time wins.
  setTimeout(() => q.sendSync(1, "in time"), 20);
  assert.equal(text((await q.receive({ timeout: 2000 })).data), "in time");
});

test("SysvMessageQueue.receiveSync() times out within tolerance", () => {
  using q = SysvMessageQueue.temporary();
  q.sendSync(2, "other type");
  const started = performance.now();
  assert.throws(
    () => q.receiveSync({ type: 1, timeout: 60 }),
    assertDomError("TimeoutError"),
  );
  assertElapsed(started, 59, 300);
  assert.throws(
    () => q.receiveIntoSync(new Uint8Array(8), { type: 1, timeout: 0 }),
    assertDomError("TimeoutError"),
  );
});

test("SysvMessageQueue.receive() rejects with the signal's reason on abort", async () => {
  using q = SysvMessageQueue.temporary();
  const controller = new AbortController();
  const pending = q.receive({ signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(pending, assertDomError("AbortError"));
  const reason = new Error("stop");
  await assert.rejects(
    q.receive({ signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  const sender = new AbortController();
  q.setAttributes({ maxBytes: 1 });
  q.sendSync(1, "x");
  const sending = q.send(1, "y", { signal: sender.signal });
  sender.abort(reason);
  await assert.rejects(sending, (e) => e === reason);
  // Nothing was taken or added by the aborted calls.
  assert.equal(q.attributes.currentMessages, 1);
});

test("SysvMessageQueue.close() is idempotent and use after close throws EBADF", async () => {
  const q = SysvMessageQueue.private();
  const id = q.id;
  try {
    const pending = q.receive();
    setTimeout(() => q.close(), 10);
    await assert.rejects(pending, assertIpcError("EBADF"));
    q.close();
    assert.equal(q.closed, true);
    assert.throws(() => q.sendSync(1, "x"), (e: unknown) => {
      assert.ok(e instanceof IpcError && e.code === "EBADF");
      assert.match(e.message, /closed/);
      return true;
    });
    // Checked before the arguments: closed wins over a bad type.
    assert.throws(() => q.trySend(0, "x"), assertIpcError("EBADF"));
    assert.throws(() => q.tryReceive(), assertIpcError("EBADF"));
    assert.throws(() => q.receiveSync(), assertIpcError("EBADF"));
    await assert.rejects(q.receive(), assertIpcError("EBADF"));
    await assert.rejects(q.send(1, "x"), assertIpcError("EBADF"));
    assert.throws(() => q.attributes, assertIpcError("EBADF"));
    assert.throws(() => q.id, assertIpcError("EBADF"));
    assert.throws(() => q.remove(), assertIpcError("EBADF"));
    // Closing is not removing.
    using same = SysvMessageQueue.fromId(id);
    assert.equal(same.attributes.currentMessages, 0);
  } finally {
    cleanup(undefined, id);
  }
});

test("SysvMessageQueue.temporary() removes the queue on dispose", () => {
  let id: number;
  {
    using q = SysvMessageQueue.temporary();
    id = q.id;
    q.sendSync(1, "left behind");
  }
  assert.throws(() => SysvMessageQueue.fromId(id), assertIpcError("EINVAL"));
});

test("SysvMessageQueue.remove() twice fails with EIDRM and EINVAL", async () => {
  const q = SysvMessageQueue.private();
  const id = q.id;
  try {
    q.sendSync(1, "x");
    q.setAttributes({ maxBytes: 1 });
    const blockedSend = q.send(1, "z", { timeout: 5000 });
    const waiting = q.receive({ type: 9, timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    q.remove();
    await assert.rejects(waiting, assertIpcError("EIDRM"));
    assertElapsed(started, 0, 1000);
    await assert.rejects(blockedSend, assertIpcError("EIDRM"));
    assert.throws(() => q.remove(), (e: unknown) => {
      assert.ok(e instanceof IpcError && e.code === "EIDRM");
      assert.match(e.message, /removed/);
      return true;
    });
    assert.throws(() => q.tryReceive(), assertIpcError("EIDRM"));
    assert.throws(() => q.trySend(1, "x"), assertIpcError("EIDRM"));
    assert.throws(() => q.receiveSync(), assertIpcError("EIDRM"));
    assert.throws(() => q.attributes, assertIpcError("EIDRM"));
    assert.throws(() => SysvMessageQueue.remove(id), assertIpcError("EINVAL"));
    q.close();
  } finally {
    cleanup(q, id);
  }
});

test("SysvMessageQueue.messages() iterates until the handle closes", async () => {
  const q = SysvMessageQueue.private();
  const id = q.id;
  try {
    for (let i = 1; i <= 3; i++) q.sendSync(i, `m${i}`);
    q.sendSync(9, "skipped");
    const seen: string[] = [];
    for await (const message of q.messages({ type: -5 })) {
      seen.push(text(message.data));
      if (seen.length === 3) setTimeout(() => q.close(), 10);
    }
    assert.deepEqual(seen, ["m1", "m2", "m3"]);
  } finally {
    cleanup(q, id);
  }
  using r = SysvMessageQueue.temporary();
  r.sendSync(1, "only");
  r.sendSync(1, "next");
  const iterated: string[] = [];
  for await (const message of r) {
    iterated.push(text(message.data));
    break;
  }
  assert.deepEqual(iterated, ["only"]);
  // Breaking out took one message and left the handle open.
  assert.equal(r.closed, false);
  assert.equal(text(r.tryReceive()!.data), "next");
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(
    (async () => {
      for await (const _ of r.messages({ signal: controller.signal })) {
        assert.fail("no message expected");
      }
    })(),
    assertDomError("AbortError"),
  );
});

for (const runtime of RUNTIMES) {
  test(`SysvMessageQueue carries messages to a ${runtime} peer and back`, async () => {
    using q = SysvMessageQueue.temporary();
    const count = 50;
    const peer = runPeerOk(runtime, PEER, [
      "echo",
      String(q.id),
      String(count),
    ]);
    const size = (i: number) => 1 + ((i * 97) % 2000);
    // At most three requests in flight: requests and replies share the
    // queue, and a queue full of requests would leave no room for replies.
    const window = 3;
    const check = async (i: number) => {
      const got = await q.receive({ type: 2, timeout: 20_000 });
      assert.equal(got.type, 2);
      assert.deepEqual(got.data, pattern(i, size(i)));
    };
    for (let i = 0; i < count; i++) {
      if (i >= window) await check(i - window);
      await q.send(1, pattern(i, size(i)), { timeout: 20_000 });
    }
    for (let i = count - window; i < count; i++) await check(i);
    assert.equal(await peer, `echoed ${count}`);
    assert.equal(q.attributes.currentMessages, 0);
  });
}

test("SysvMessageQueue exchanges messages with a C peer through glibc", async () => {
  const exe = buildC("sysv_peer");
  using q = SysvMessageQueue.temporary();
  const id = String(q.id);
  // C sends, we receive: every byte, in order, once.
  const sender = runPeerOk("exec", exe, ["send", id, "3", "20", "1000"]);
  for (let i = 0; i < 20; i++) {
    const got = await q.receive({ type: 3, timeout: 20_000 });
    assert.deepEqual(got.data, pattern(i, 1000));
  }
  assert.equal(await sender, "sent 20");
  // We send, C receives and checks (the largest message too).
  const receiver = runPeerOk("exec", exe, [
    "recv",
    id,
    "4",
    "5",
    String(msgmax),
  ]);
  for (let i = 0; i < 5; i++) {
    await q.send(4, pattern(i, msgmax), { timeout: 20_000 });
  }
  assert.equal(await receiver, "received 5");
  // Echo with types chosen on both sides.
  const echo = runPeerOk("exec", exe, ["echo", id, "2"]);
  q.sendSync(1, "ping");
  q.sendSync(1, new Uint8Array([0, 0, 7]));
  assert.equal(
    text((await q.receive({ type: 2, timeout: 20_000 })).data),
    "ping",
  );
  assert.deepEqual(
    (await q.receive({ type: 2, timeout: 20_000 })).data,
    new Uint8Array([0, 0, 7]),
  );
  await echo;
  assert.equal(q.attributes.currentMessages, 0);
});

test("SysvMessageQueue.keyFromPath() matches ftok(3)", async () => {
  const exe = buildC("sysv_peer");
  for (const [path, project] of [["/tmp", 1], ["/", 255], [exe, 65]] as const) {
    const key = await runPeerOk("exec", exe, ["ftok", path, String(project)]);
    assert.match(key, /^\d+$/);
    assert.equal(SysvMessageQueue.keyFromPath(path, project), Number(key));
  }
  assert.throws(() => SysvMessageQueue.keyFromPath("/tmp", 0), RangeError);
  assert.throws(() => SysvMessageQueue.keyFromPath("/tmp", 256), RangeError);
  // Documented: an Error with the code of the failed stat.
  assert.throws(
    () => SysvMessageQueue.keyFromPath("/no/such/file", 1),
    (e: unknown) => {
      assert.ok(e instanceof Error, String(e));
      assert.equal((e as { code?: string }).code, "ENOENT");
      assert.match(e.message, /\/no\/such\/file/);
      return true;
    },
  );
});

for (const runtime of RUNTIMES) {
  test(`SysvMessageQueue receiveSync() in a ${runtime} process fails with EIDRM on remove`, async () => {
    const q = SysvMessageQueue.private();
    const id = q.id;
    try {
      const peer = startPeer(runtime, PEER, ["wait", String(id)]);
      assert.equal(await nextLine(peer), "waiting");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(hasExited(peer), false, "the peer is blocked in msgrcv");
      const removed = performance.now();
      q.remove();
      // Exactly: blocked, then woken by the removal (no message, no timeout).
      assert.equal(await succeeded(peer), "waiting\nEIDRM");
      assertElapsed(removed, 0, 2000);
    } finally {
      cleanup(q, id);
    }
  });
}

rootTest(
  "SysvMessageQueue denies a peer running as nobody on a 0600 queue",
  "switching to nobody",
  async () => {
    const key = testKey();
    let q: SysvMessageQueue | undefined;
    try {
      q = SysvMessageQueue.open(key, {
        create: true,
        exclusive: true,
        mode: 0o600,
      });
      for (const runtime of RUNTIMES) {
        const byKey = await runPeerOk(runtime, PEER, ["open", String(key)], {
          user: "nobody",
        });
        assert.equal(byKey, "EACCES");
        const byId = await runPeerOk(runtime, PEER, ["attach", String(q.id)], {
          user: "nobody",
        });
        assert.equal(byId, "EACCES");
      }
      // Opened up to everyone, the same peer gets in.
      q.setAttributes({ mode: 0o666 });
      const allowed = await runPeerOk("deno", PEER, ["open", String(key)], {
        user: "nobody",
      });
      assert.equal(allowed, "ok");
      assert.equal(q.tryReceive()?.type, 1);
    } finally {
      cleanup(q);
    }
  },
);
