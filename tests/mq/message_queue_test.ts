import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MessageQueue } from "../../mq/mod.ts";
import { patternMessage } from "../helpers/mq_pattern.ts";
import {
  buildC,
  CURRENT,
  finished,
  hasExited,
  killPeers,
  nextLine,
  rootTest,
  runPeerOk,
  RUNTIMES,
  signalRepeatedly,
  signalUntilLine,
  startPeer,
  succeeded,
  testName,
} from "../helpers/peer.ts";
import {
  assertElapsed,
  assertIpcError,
  isTimeout,
  removeQuietly,
} from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/mq_peer.ts";
const text = (data: Uint8Array) => new TextDecoder().decode(data);

test("MessageQueue.receive() returns messages in priority order", async () => {
  using q = MessageQueue.temporary({ maxMessages: 8, messageSize: 64 });
  q.sendSync("a0", { priority: 0 });
  q.sendSync("b5", { priority: 5 });
  q.sendSync("c5", { priority: 5 });
  q.sendSync("d32767", { priority: 32767 });
  const got = [];
  for (let i = 0; i < 4; i++) {
    const m = i % 2 ? q.receiveSync() : await q.receive();
    got.push(`${text(m.data)}@${m.priority}`);
  }
  assert.deepEqual(got, ["d32767@32767", "b5@5", "c5@5", "a0@0"]);
});

test("MessageQueue.open() creates, reopens and honours exclusive", () => {
  const name = testName();
  try {
    using a = MessageQueue.open(name, {
      create: true,
      exclusive: true,
      maxMessages: 3,
      messageSize: 100,
    });
    assert.deepEqual(a.attributes, {
      maxMessages: 3,
      messageSize: 100,
      currentMessages: 0,
    });
    using b = MessageQueue.open(name);
    b.sendSync("shared");
    assert.equal(text(a.receiveSync().data), "shared");
    assert.throws(
      () => MessageQueue.open(name, { create: true, exclusive: true }),
      assertIpcError("EEXIST", "mq_open", name),
    );
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

for (const peer of RUNTIMES) {
  test(`MessageQueue.open() with create and other limits than an existing queue's fails with EEXIST naming both (a ${peer} peer too); limits: "any" opens it as it is`, async () => {
    const name = testName();
    try {
      using a = MessageQueue.open(name, {
        create: true,
        maxMessages: 3,
        messageSize: 100,
      });
      a.sendSync("kept");
      assert.throws(
        () =>
          MessageQueue.open(name, {
            create: true,
            maxMessages: 5,
            messageSize: 100,
          }),
        (error: unknown) => {
          assertIpcError("EEXIST", "mq_open", name)(error);
          assert.match(
            (error as Error).message,
            /exists with maxMessages 3 and messageSize 100, not the 5 and 100 asked for.*limits: "any"/,
          );
          return true;
        },
      );
      assert.throws(
        () => MessageQueue.open(name, { create: true, messageSize: 64 }),
        /messageSize 100, not the any and 64 asked for/,
      );
      // The same from another process: it neither opens nor unlinks it.
      const out = await runPeerOk(peer, PEER, ["create", name, "5", "100"]);
      assert.match(out, /^EEXIST .*maxMessages 3 and messageSize 100/);
      // Limits that match, no limits, and "any" open the queue as it is.
      MessageQueue.open(name, { create: true, maxMessages: 3 }).close();
      MessageQueue.open(name, { create: true }).close();
      using b = MessageQueue.open(name, {
        create: true,
        maxMessages: 5,
        messageSize: 64,
        limits: "any",
      });
      assert.deepEqual([b.maxMessages, b.messageSize], [3, 100]);
      assert.equal(text(b.receiveSync().data), "kept");
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => MessageQueue.open(name, { limits: "exactly" as any }),
        /limits must be "exact" or "any", got the string "exactly"/,
      );
    } finally {
      removeQuietly(() => MessageQueue.unlink(name));
    }
  });
}

test("MessageQueue.open() explains a missing queue and limits over the maximum", () => {
  const name = testName();
  assert.throws(() => MessageQueue.open(name), (e) => {
    assertIpcError("ENOENT", "mq_open")(e);
    const message = (e as Error).message;
    assert.match(
      message,
      /^Cannot open message queue "\/ipckit_test_\w+": ENOENT \(No such file or directory\)/,
    );
    assert.match(message, /create: true/);
    return true;
  });
  assert.throws(
    () => MessageQueue.open(name, { create: true, maxMessages: 70_000 }),
    (e) => assertIpcError("EINVAL")(e) && /65536/.test((e as Error).message),
  );
  assert.throws(
    () => MessageQueue.unlink(name),
    assertIpcError("ENOENT", "mq_unlink"),
  );
});

test("MessageQueue.open() rejects malformed names and options before any syscall", () => {
  assert.throws(() => MessageQueue.open("jobs"), TypeError);
  assert.throws(() => MessageQueue.open("/a/b"), TypeError);
  assert.throws(() => MessageQueue.open("/a\0b"), TypeError);
  assert.throws(() => MessageQueue.open(42 as unknown as string), TypeError);
  assert.throws(() => MessageQueue.open("/"), RangeError);
  assert.throws(() => MessageQueue.open("/" + "x".repeat(256)), RangeError);
  assert.throws(() => MessageQueue.unlink("nope"), TypeError);
  assert.throws(() => MessageQueue.temporary({ maxMessages: 0 }), RangeError);
  assert.throws(() => MessageQueue.temporary({ messageSize: -1 }), RangeError);
  assert.throws(() => MessageQueue.temporary({ messageSize: 1.5 }), RangeError);
  assert.throws(() => MessageQueue.temporary({ mode: 0o10000 }), RangeError);
  assert.throws(
    () => MessageQueue.temporary({ access: "both" as "read" }),
    TypeError,
  );
});

test("MessageQueue.sendSync() rejects bad priorities and oversize messages", () => {
  using q = MessageQueue.temporary({ maxMessages: 2, messageSize: 16 });
  for (const priority of [-1, 32768, 1.5, NaN]) {
    assert.throws(() => q.sendSync("x", { priority }), RangeError);
  }
  assert.throws(
    () => q.sendSync(new Uint8Array(17)),
    (e) => assertIpcError("EMSGSIZE")(e) && /16/.test((e as Error).message),
  );
  q.sendSync(new Uint8Array(16));
  assert.equal(q.attributes.currentMessages, 1);
});

test("MessageQueue.trySend() and tryReceive() never block", () => {
  using q = MessageQueue.temporary({ maxMessages: 2, messageSize: 16 });
  assert.equal(q.tryReceive(), undefined);
  assert.equal(q.trySend("1"), true);
  assert.equal(q.trySend("2", { priority: 3 }), true);
  assert.equal(q.trySend("3"), false);
  assert.equal(text(q.tryReceive()!.data), "2");
  const buffer = new Uint8Array(16);
  assert.deepEqual(q.tryReceiveInto(buffer), { length: 1, priority: 0 });
  assert.equal(buffer[0], "1".charCodeAt(0));
  assert.equal(q.tryReceiveInto(buffer), undefined);
  assert.throws(() => q.tryReceiveInto(new Uint8Array(15)), RangeError);
});

test("MessageQueue timeouts fire within tolerance, sync and async", async () => {
  using q = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  let start = performance.now();
  assert.throws(() => q.receiveSync({ timeout: 100 }), isTimeout);
  assertElapsed(start, 95, 1000);
  start = performance.now();
  await assert.rejects(q.receive({ timeout: 100 }), isTimeout);
  assertElapsed(start, 95, 1000);
  q.sendSync("fill");
  start = performance.now();
  assert.throws(() => q.sendSync("more", { timeout: 100 }), isTimeout);
  assertElapsed(start, 95, 1000);
  start = performance.now();
  await assert.rejects(q.send("more", { timeout: 100 }), isTimeout);
  assertElapsed(start, 95, 1000);
  assert.throws(
    () => q.receiveSync({ timeout: 0 }) && q.receiveSync({ timeout: 0 }),
    isTimeout,
  );
});

test("MessageQueue.receive() honours AbortSignal and closing", async () => {
  using q = MessageQueue.temporary();
  const controller = new AbortController();
  const pending = q.receive({ signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(
    pending,
    (e) => e instanceof DOMException && e.name === "AbortError",
  );
  const reason = new Error("stop");
  await assert.rejects(
    q.receive({ signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  const orphan = q.receive();
  setTimeout(() => q.close(), 20);
  await assert.rejects(orphan, assertIpcError("EBADF"));
});

test("MessageQueue.send() waits for room without blocking the event loop", async () => {
  using q = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  q.sendSync("first");
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  setTimeout(() => q.receiveSync(), 60);
  await q.send("second", { timeout: 5000 });
  clearInterval(timer);
  assert.ok(ticks >= 5, `event loop ran ${ticks} ticks while waiting`);
  assert.equal(text(q.receiveSync().data), "second");
});

test("MessageQueue.waitForMessage() resolves on arrival without taking the message", async () => {
  using q = MessageQueue.temporary();
  setTimeout(() => q.sendSync("hello"), 20);
  await q.waitForMessage({ timeout: 5000 });
  assert.equal(q.attributes.currentMessages, 1);
  assert.equal(text(q.receiveSync().data), "hello");
});

test("MessageQueue iterates with for await until closed", async () => {
  const q = MessageQueue.temporary();
  for (const word of ["one", "two", "three"]) q.sendSync(word);
  const got: string[] = [];
  for await (const message of q) {
    got.push(text(message.data));
    if (got.length === 3) setTimeout(() => q.close(), 10);
  }
  assert.deepEqual(got, ["one", "two", "three"]);
  assert.equal(q.closed, true);
});

test("MessageQueue use after close throws EBADF; double close is a no-op", () => {
  const q = MessageQueue.temporary();
  const name = q.name;
  q.close();
  q.close();
  assert.throws(
    () => q.sendSync("x"),
    (e) => assertIpcError("EBADF")(e) && /closed/.test((e as Error).message),
  );
  assert.throws(() => q.receiveSync(), assertIpcError("EBADF"));
  assert.throws(() => q.trySend("x"), assertIpcError("EBADF"));
  assert.throws(() => q.tryReceive(), assertIpcError("EBADF"));
  assert.throws(() => q.attributes, assertIpcError("EBADF"));
  assert.throws(() => q.fd, assertIpcError("EBADF"));
  // temporary() unlinked the queue on close
  assert.throws(() => MessageQueue.open(name), assertIpcError("ENOENT"));
});

test("MessageQueue access modes restrict directions, and the EBADF says which access the handle was opened with", async () => {
  const name = testName();
  const readOnly =
    /opened with access: "read"; open it with access "write" or "read-write" to send/;
  const writeOnly =
    /opened with access: "write"; open it with access "read" or "read-write" to receive/;
  const both =
    (code: string, syscall: string, hint: RegExp) => (error: unknown) => {
      assertIpcError(code, syscall, name)(error);
      assert.match((error as Error).message, hint);
      return true;
    };
  try {
    using writer = MessageQueue.open(name, { create: true, access: "write" });
    using reader = MessageQueue.open(name, { access: "read" });
    assert.throws(
      () => reader.sendSync("x"),
      both("EBADF", "mq_send", readOnly),
    );
    assert.throws(
      () => reader.trySend("x"),
      both("EBADF", "mq_send", readOnly),
    );
    await assert.rejects(reader.send("x"), both("EBADF", "mq_send", readOnly));
    await assert.rejects(
      reader.send("x", { timeout: 50 }),
      both("EBADF", "mq_send", readOnly),
    );
    writer.sendSync("x");
    assert.throws(
      () => writer.tryReceive(),
      both("EBADF", "mq_receive", writeOnly),
    );
    assert.throws(
      () => writer.receiveSync(),
      both("EBADF", "mq_receive", writeOnly),
    );
    assert.throws(
      () => writer.receiveSync({ timeout: 50 }),
      both("EBADF", "mq_receive", writeOnly),
    );
    await assert.rejects(
      writer.receive(),
      both("EBADF", "mq_receive", writeOnly),
    );
    await assert.rejects(
      writer.receiveInto(new Uint8Array(writer.messageSize)),
      both("EBADF", "mq_receive", writeOnly),
    );
    assert.equal(text(reader.receiveSync().data), "x");
    // A handle of both directions has no such hint on its own failures.
    using rw = MessageQueue.open(name);
    rw.close();
    assert.throws(
      () => rw.tryReceive(),
      (error: unknown) => {
        assertIpcError("EBADF")(error);
        assert.doesNotMatch((error as Error).message, /opened with access/);
        return true;
      },
    );
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

for (const sender of RUNTIMES) {
  for (const receiver of RUNTIMES) {
    test(`MessageQueue carries 500 messages from ${sender} to ${receiver}, every byte in order, once`, async () => {
      const name = testName();
      try {
        using q = MessageQueue.open(name, {
          create: true,
          maxMessages: 10,
          messageSize: 1024,
        });
        const [s, r] = await Promise.all([
          runPeerOk(sender, PEER, ["send", name, "500"]),
          runPeerOk(receiver, PEER, ["receive", name, "500"]),
        ]);
        assert.equal(s, "sent");
        assert.equal(r, "received 500");
        assert.equal(q.attributes.currentMessages, 0);
      } finally {
        removeQuietly(() => MessageQueue.unlink(name));
      }
    });
  }
}

test(`MessageQueue in ${CURRENT} talks to a C peer through glibc, both ways`, async () => {
  const peer = buildC("mq_peer");
  const name = testName();
  try {
    using q = MessageQueue.open(name, {
      create: true,
      maxMessages: 10,
      messageSize: 512,
    });
    // C sends, we receive and check every byte.
    const sending = runPeerOk("exec", peer, ["send", name, "200"]);
    for (let i = 0; i < 200; i++) {
      const { data } = await q.receive({ timeout: 10_000 });
      assert.deepEqual(data, patternMessage(i, 512));
    }
    assert.equal(await sending, "sent");
    // We send, C receives and checks.
    const receiving = runPeerOk("exec", peer, ["receive", name, "200"]);
    for (let i = 0; i < 200; i++) {
      await q.send(patternMessage(i, 512), { timeout: 10_000 });
    }
    assert.equal(await receiving, "received 200");
    // Priorities agree with glibc's.
    q.sendSync("a1", { priority: 1 });
    q.sendSync("b7", { priority: 7 });
    const drained = await runPeerOk("exec", peer, ["drain", name, "2"]);
    assert.deepEqual(drained.split("\n"), ["7:b7", "1:a1"]);
    await runPeerOk("exec", peer, ["priorities", name]);
    assert.deepEqual(
      [q.receiveSync(), q.receiveSync(), q.receiveSync()].map((m) =>
        `${text(m.data)}@${m.priority}`
      ),
      ["p9@9", "p5@5", "p1@1"],
    );
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

test("MessageQueue keeps what a killed sender had sent, and nothing partial", async () => {
  const name = testName();
  try {
    using q = MessageQueue.open(name, {
      create: true,
      maxMessages: 4,
      messageSize: 256,
    });
    const other = RUNTIMES.find((r) => r !== CURRENT)!;
    const child = startPeer(other, PEER, ["stuck-send", name]);
    assert.equal(await nextLine(child), "full 4");
    child.kill("SIGKILL");
    assert.equal((await finished(child)).signal, "SIGKILL");
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(
        q.receiveSync({ timeout: 1000 }).data,
        patternMessage(i, 256),
      );
    }
    assert.equal(q.tryReceive(), undefined);
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

rootTest(
  "MessageQueue permissions apply to an unprivileged peer",
  "switching to nobody",
  async () => {
    const name = testName();
    try {
      using q = MessageQueue.open(name, { create: true, mode: 0o600 });
      const denied = await runPeerOk(CURRENT, PEER, ["open", name, "read"], {
        user: "nobody",
      });
      assert.equal(denied, "EACCES");
      q.close();
      removeQuietly(() => MessageQueue.unlink(name));
      // 0o644 (after the usual umask): others may read, not write.
      using open = MessageQueue.open(name, { create: true, mode: 0o644 });
      open.sendSync("to nobody");
      const reader = await runPeerOk(CURRENT, PEER, ["open", name, "read"], {
        user: "nobody",
      });
      assert.equal(reader, "opened to nobody");
      const writer = await runPeerOk(CURRENT, PEER, ["open", name, "write"], {
        user: "nobody",
      });
      assert.equal(writer, "EACCES");
    } finally {
      removeQuietly(() => MessageQueue.unlink(name));
    }
  },
);

rootTest(
  "MessageQueue.open() names the limit an unprivileged user hit and how to raise it",
  "switching to nobody",
  async () => {
    const name = testName();
    try {
      // msg_max (10 here, unless raised) binds users without CAP_SYS_RESOURCE.
      const msgMax = Number(
        readFileSync("/proc/sys/fs/mqueue/msg_max", "utf8"),
      );
      const over = await runPeerOk(
        CURRENT,
        PEER,
        ["create", name, String(msgMax + 1), "64"],
        { user: "nobody" },
      );
      assert.match(
        over,
        /^EINVAL .*msg_max \(\d+\).*sysctl fs\.mqueue\.msg_max=/,
      );
      // RLIMIT_MSGQUEUE counts every byte a user's queues may hold.
      const limited = await runPeerOk(
        CURRENT,
        PEER,
        ["create", name, "10", "1024"],
        { user: "nobody", wrap: ["prlimit", "--msgqueue=4096"] },
      );
      assert.match(limited, /^EMFILE .*RLIMIT_MSGQUEUE/);
    } finally {
      removeQuietly(() => MessageQueue.unlink(name));
    }
  },
);

test("MessageQueue.receive(): five pending receives each take exactly one message", async () => {
  using q = MessageQueue.temporary({ maxMessages: 8, messageSize: 16 });
  const got: string[] = [];
  const receives = Array.from(
    { length: 5 },
    () => q.receive({ timeout: 10_000 }).then((m) => got.push(text(m.data))),
  );
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 1; i <= 5; i++) {
    q.sendSync(`m${i}`);
    const deadline = performance.now() + 5000;
    while (got.length < i && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 30)); // time for a second taker
    assert.equal(got.length, i, `after ${i} messages: ${got}`);
  }
  await Promise.all(receives);
  assert.deepEqual([...got].sort(), ["m1", "m2", "m3", "m4", "m5"]);
  q.sendSync("left");
  assert.equal(q.attributes.currentMessages, 1, "no receive is left over");
});

test("MessageQueue.receive() on 100 queues at once: every one is served (more than 64 ready descriptors)", async () => {
  const queues: MessageQueue[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      queues.push(MessageQueue.temporary({ maxMessages: 1, messageSize: 16 }));
    }
    const receives = queues.map((q) => q.receive({ timeout: 20_000 }));
    await new Promise((r) => setTimeout(r, 50));
    queues.forEach((q, i) => q.sendSync(`q${i}`));
    const got = await Promise.all(receives);
    assert.deepEqual(
      got.map((m) => text(m.data)),
      queues.map((_, i) => `q${i}`),
    );
  } finally {
    for (const q of queues) q.close();
  }
});

test("MessageQueue.close() rejects a send() waiting for room and a waitForMessage() with EBADF", async () => {
  const closedError = (e: unknown) =>
    assertIpcError("EBADF")(e) && /closed/.test(String(e));
  const full = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  const empty = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
  try {
    using fullToo = MessageQueue.open(full.name);
    full.sendSync("first");
    const sending = full.send("second", { timeout: 5000 });
    const watching = empty.waitForMessage({ timeout: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    const closed = performance.now();
    full.close();
    empty.close();
    await assert.rejects(sending, closedError);
    await assert.rejects(watching, closedError);
    assertElapsed(closed, 0, 1000);
    assert.equal(text(fullToo.receiveSync({ timeout: 0 }).data), "first");
    assert.equal(
      fullToo.tryReceive(),
      undefined,
      "the pending send sent nothing",
    );
  } finally {
    full.close();
    empty.close();
  }
});

for (const runtime of RUNTIMES) {
  test(`MessageQueue.receiveSync() in a ${runtime} peer survives signals (EINTR): timeout kept, message taken`, async () => {
    using q = MessageQueue.temporary({ maxMessages: 2, messageSize: 32 });
    const peer = startPeer(runtime, PEER, ["eintr", q.name, "800"]);
    assert.equal(await nextLine(peer), "waiting for the timeout");
    const line = await signalUntilLine(peer, "SIGUSR2", 50, 5000);
    const elapsed = Number(/^timed out after (\d+)$/.exec(line)?.[1]);
    assert.ok(elapsed >= 790 && elapsed < 2000, line);
    assert.equal(await nextLine(peer), "waiting for a message");
    await signalRepeatedly(peer, "SIGUSR2", 5, 30);
    q.sendSync("hello");
    assert.equal(await nextLine(peer), "got hello after signals");
    await succeeded(peer);
    assert.equal(q.attributes.currentMessages, 0);
  });

  test(`MessageQueue.receive() keeps an idle ${runtime} peer alive until a message; finished waits let it exit`, async () => {
    using q = MessageQueue.temporary({ maxMessages: 2, messageSize: 32 });
    const peer = startPeer(runtime, PEER, ["idle-receive", q.name]);
    assert.equal(await nextLine(peer), "waiting");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hasExited(peer), false, "the pending receive kept it alive");
    q.sendSync("late");
    assert.equal(await succeeded(peer, { grace: 2000 }), "waiting\ngot late");
    using r = MessageQueue.temporary({ maxMessages: 2, messageSize: 32 });
    const done = startPeer(runtime, PEER, ["done-receives", r.name]);
    assert.equal(await succeeded(done, { grace: 2000 }), "done");
    assert.equal(r.attributes.currentMessages, 0);
  });
}
