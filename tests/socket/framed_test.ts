// framed(): whole messages over byte streams, in process (socket pairs and
// raw streams that cut frames anywhere) and across processes (Deno <-> Bun
// over a Unix socket, and a Python stdlib peer), plus every broken frame:
// over the limit, cut short by EOF, a peer killed mid-frame.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  framed,
  type FramedConnection,
  FramingError,
  listen,
  socketPair,
} from "../../socket/mod.ts";
import { IpcError } from "../../ffi/mod.ts";
import {
  CURRENT,
  killPeers,
  nextLine,
  RUNTIMES,
  startPeer,
  succeeded,
  testDir,
} from "../helpers/peer.ts";
import { assertDomError, assertIpcError } from "../helpers/assert.ts";

afterEach(killPeers);

const decode = (bytes: Uint8Array | undefined) =>
  new TextDecoder().decode(bytes);

/** A frame's bytes: the 4-byte big-endian length, then the body. */
function frameOf(body: Uint8Array, length = body.length): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, length);
  frame.set(body, 4);
  return frame;
}

const pattern = (n: number, seed: number) =>
  new Uint8Array(n).map((_, i) => (i * 31 + seed + (i >> 8)) & 255);

/** A raw byte stream the test feeds chunk by chunk, framed on the other end. */
function rawStream(options?: { maxMessageSize?: number }): {
  messages: FramedConnection;
  feed: (chunk: Uint8Array) => void;
  end: () => void;
  sent: Uint8Array[];
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
  });
  const sent: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => {
      sent.push(chunk.slice());
    },
  });
  return {
    messages: framed({ readable, writable }, options),
    feed: (chunk) => controller.enqueue(chunk),
    end: () => controller.close(),
    sent,
  };
}

test("framed() carries messages of every size whole and in order over a socket pair", async () => {
  const [a, b] = socketPair("stream");
  await using left = framed(a, { maxMessageSize: 4 << 20 });
  await using right = framed(b, { maxMessageSize: 4 << 20 });
  const sizes = [0, 1, 3, 4, 5, 100, 65535, 65536, 65537, 300_000, 4 << 20];
  const sending = Promise.all(sizes.map((n, i) => left.send(pattern(n, i))));
  for (const [i, n] of sizes.entries()) {
    const message = await right.receive();
    assert.ok(message instanceof Uint8Array);
    assert.equal(message.length, n);
    assert.deepEqual(message, pattern(n, i), `message ${i} (${n} bytes)`);
  }
  await sending;
  await left.send("text é");
  assert.equal(decode(await right.receive()), "text é");
});

test("framed() over a seqpacket pair and over a socket's own streams", async () => {
  const [a, b] = socketPair("seqpacket");
  await using left = framed(a);
  await using right = framed(b);
  await Promise.all([left.send("one"), left.send(pattern(50_000, 1))]);
  assert.equal(decode(await right.receive()), "one");
  assert.deepEqual(await right.receive(), pattern(50_000, 1));
  // The Web Streams path: a plain { readable, writable } of a socket.
  const [c, d] = socketPair("stream");
  await using viaStreams = framed({
    readable: c.readable,
    writable: c.writable,
  });
  await using direct = framed(d);
  const big = pattern(300_000, 2);
  const sending = Promise.all([viaStreams.send(big), viaStreams.send("after")]);
  assert.deepEqual(await direct.receive(), big);
  assert.equal(decode(await direct.receive()), "after");
  await sending;
  await viaStreams.close();
  assert.equal(await direct.receive(), undefined);
  c.close();
});

test("framed() finds frames cut at every byte and many frames in one chunk", async () => {
  const { messages, feed, end } = rawStream();
  const bodies = [pattern(10, 1), pattern(0, 2), pattern(700, 3)];
  const bytes = new Uint8Array(bodies.reduce((n, b) => n + 4 + b.length, 0));
  let at = 0;
  for (const body of bodies) {
    bytes.set(frameOf(body), at);
    at += 4 + body.length;
  }
  // One byte per chunk, then everything again as one chunk.
  for (const byte of bytes) feed(new Uint8Array([byte]));
  feed(bytes);
  end();
  const got: Uint8Array[] = [];
  for await (const message of messages) got.push(message);
  assert.deepEqual(got, [...bodies, ...bodies]);
  assert.equal(await messages.receive(), undefined, "stays at the end");
});

test("framed() refuses an oversize frame from its header alone, then stays broken", async () => {
  const { messages, feed } = rawStream({ maxMessageSize: 1024 });
  feed(frameOf(pattern(1024, 0)));
  // A header that claims 4 GiB - 1: the body never comes, and must not be
  // waited for or allocated.
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 0xffffffff);
  feed(header);
  assert.equal((await messages.receive())?.length, 1024);
  const isOversize = (e: unknown) => {
    assert.ok(e instanceof FramingError, String(e));
    assert.equal(e.code, "EMSGSIZE");
    assert.match(e.message, /4294967295 bytes exceeds maxMessageSize 1024/);
    return true;
  };
  await assert.rejects(messages.receive(), isOversize);
  await assert.rejects(messages.receive(), isOversize);
  await messages.close();
});

test("framed() rejects a frame cut short by the end of the stream (body or header)", async () => {
  for (
    const [bytes, expected] of [
      [frameOf(pattern(10, 0), 100), /10 of 100 bytes of the body/],
      [new Uint8Array([0, 0]), /inside a frame header \(2 of 4 bytes\)/],
      [frameOf(new Uint8Array(0), 5), /0 of 5 bytes/],
    ] as const
  ) {
    const { messages, feed, end } = rawStream();
    feed(frameOf(new Uint8Array([42])));
    feed(bytes);
    end();
    assert.deepEqual(await messages.receive(), new Uint8Array([42]));
    const truncated = (e: unknown) => {
      assert.ok(e instanceof FramingError, String(e));
      assert.equal(e.code, "ETRUNCATED");
      assert.match(e.message, expected);
      return true;
    };
    await assert.rejects(messages.receive(), truncated);
    await assert.rejects(messages.receive(), truncated);
  }
});

test("framed() send over the limit is a RangeError and sends nothing", async () => {
  const { messages, sent } = rawStream({ maxMessageSize: 16 });
  await assert.rejects(messages.send(new Uint8Array(17)), RangeError);
  assert.equal(sent.length, 0);
  await messages.send(new Uint8Array(16));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.length, 20);
  await assert.rejects(messages.send(42 as unknown as string), TypeError);
});

test("framed() receive timeout and abort keep a half-read frame", async () => {
  const { messages, feed } = rawStream();
  const frame = frameOf(pattern(100, 5));
  feed(frame.subarray(0, 50));
  await assert.rejects(
    messages.receive({ timeout: 20 }),
    assertDomError("TimeoutError"),
  );
  const controller = new AbortController();
  const aborted = messages.receive({ signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, assertDomError("AbortError"));
  await assert.rejects(
    messages.receive({ signal: AbortSignal.abort() }),
    assertDomError("AbortError"),
  );
  feed(frame.subarray(50));
  assert.deepEqual(await messages.receive({ timeout: 5000 }), pattern(100, 5));
});

test("framed() receives queue in call order; close() rejects waiting ones with EBADF", async () => {
  const [a, b] = socketPair("stream");
  await using left = framed(a);
  const right = framed(b);
  const first = right.receive();
  const second = right.receive();
  await left.send("one");
  assert.equal(decode(await first), "one");
  await right.close();
  await assert.rejects(second, assertIpcError("EBADF"));
  await assert.rejects(right.receive(), assertIpcError("EBADF"));
  await assert.rejects(right.send("x"), assertIpcError("EBADF"));
  await right.close(); // idempotent
  assert.equal(right.closed, true);
});

test("framed() close() never waits on a peer that stopped reading", async () => {
  for (const kind of ["socket", "streams"] as const) {
    const [a, b] = socketPair("stream");
    using _b = b; // never read
    const messages = kind === "socket"
      ? framed(a)
      : framed({ readable: a.readable, writable: a.writable });
    // More than the socket buffers hold: the sends wait for room.
    const settled = Promise.allSettled(
      Array.from({ length: 8 }, () => messages.send(new Uint8Array(1 << 20))),
    );
    await new Promise((r) => setTimeout(r, 20));
    await messages.close(); // returns although the peer reads nothing
    // A plain { readable, writable } has no close() of its own: the write in
    // flight ends when its socket closes.
    a.close();
    const results = await settled;
    assert.ok(
      results.every((r) => r.status === "rejected"),
      `${kind}: sends still queued at close() reject`,
    );
  }
});

test("framed() closeWrite() ends the peer's iteration and keeps receiving", async () => {
  const [a, b] = socketPair("stream");
  await using left = framed(a);
  await using right = framed(b);
  await left.send("last");
  await left.closeWrite();
  await assert.rejects(left.send("more"), assertIpcError("EBADF"));
  const got: string[] = [];
  for await (const message of right) got.push(decode(message));
  assert.deepEqual(got, ["last"]);
  await right.send("reply");
  assert.equal(decode(await left.receive()), "reply");
});

test("framed() checks its arguments", () => {
  assert.throws(() => framed({} as never), TypeError);
  assert.throws(() => framed(null as never), TypeError);
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  assert.throws(
    () => framed({ readable, writable }, { maxMessageSize: -1 }),
    RangeError,
  );
  assert.throws(
    () => framed({ readable, writable }, { maxMessageSize: 2 ** 32 }),
    RangeError,
  );
  assert.throws(
    () => framed({ readable, writable }, { maxMessageSize: "1" as never }),
    TypeError,
  );
  assert.equal(
    framed({ readable, writable }).maxMessageSize,
    16 * 1024 * 1024,
  );
});

for (const other of RUNTIMES) {
  test(`framed() echo: ${CURRENT} here, ${other} peer, over a Unix socket`, async () => {
    const dir = testDir("framed");
    try {
      const path = join(dir, "echo.sock");
      await using server = await listen({ path });
      const peer = startPeer(other, "tests/helpers/rpc_peer.ts", [
        "framed-echo",
        path,
      ]);
      await using messages = framed(await server.accept({ timeout: 20_000 }), {
        maxMessageSize: 64 << 20,
      });
      const sizes = [0, 1, 64, 70_000, 5 << 20];
      const sending = Promise.all(
        sizes.map((n, i) => messages.send(pattern(n, i))),
      );
      for (const [i, n] of sizes.entries()) {
        assert.deepEqual(await messages.receive(), pattern(n, i));
      }
      await sending;
      await messages.closeWrite();
      assert.equal(await messages.receive(), undefined);
      assert.equal(await succeeded(peer), `done ${sizes.length}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("framed() interoperates with a Python stdlib peer (struct '>I' framing)", async () => {
  const dir = testDir("framed-py");
  try {
    const path = join(dir, "py.sock");
    await using server = await listen({ path });
    const peer = startPeer("exec", "python3", [
      "tests/helpers/rpc_framed_peer.py",
      path,
    ]);
    await using messages = framed(await server.accept({ timeout: 20_000 }));
    for (const n of [0, 5, 100_000]) {
      await messages.send(pattern(n, n));
      assert.deepEqual(
        await messages.receive(),
        pattern(n, n).map((v) => (v + 1) & 255),
      );
    }
    await messages.closeWrite();
    assert.equal(await messages.receive(), undefined);
    assert.equal(await succeeded(peer), "done 3");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const other of RUNTIMES) {
  test(`framed(): a ${other} peer killed mid-frame is an error, never a hang`, async () => {
    const dir = testDir("framed-kill");
    try {
      const path = join(dir, "kill.sock");
      await using server = await listen({ path });
      const peer = startPeer(other, "tests/helpers/rpc_peer.ts", [
        "framed-partial",
        path,
      ]);
      await using messages = framed(await server.accept({ timeout: 20_000 }));
      assert.equal(await nextLine(peer), "sent");
      assert.deepEqual(await messages.receive(), new Uint8Array(1000).fill(7));
      const waiting = messages.receive();
      peer.kill("SIGKILL");
      await assert.rejects(waiting, (e: unknown) => {
        // EOF mid-frame; a reset if the peer died with unread bytes.
        assert.ok(
          (e instanceof FramingError && e.code === "ETRUNCATED") ||
            (e instanceof IpcError && e.code === "ECONNRESET"),
          String(e),
        );
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
