// The socket module in one process: addresses, pairs, servers, datagrams,
// descriptors, and the unhappy paths (bad input, missing servers, stale and
// live files, oversize records, close while waiting, timeouts, abort).
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, test } from "node:test";
import { cString, libc } from "../../ffi/mod.ts";
import {
  bindDatagram,
  connect,
  DatagramSocket,
  listen,
  SocketConnection,
  socketPair,
} from "../../socket/mod.ts";
import { assertDomError, assertIpcError } from "../helpers/assert.ts";
import { RUN_PREFIX, testDir } from "../helpers/peer.ts";
import { readAll, recordBytes } from "../helpers/socket_pattern.ts";

const decode = (b: Uint8Array | null | undefined) =>
  b === null || b === undefined ? b : new TextDecoder().decode(b);

function abstractName(): string {
  return `${RUN_PREFIX}_${crypto.randomUUID().slice(0, 8)}`;
}

/** Runs `fn` with a fresh directory (removed after). */
async function inDir(fn: (dir: string) => Promise<void> | void) {
  const dir = testDir("sock");
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

describe("addresses", () => {
  test("a path over 107 bytes is a RangeError, before any syscall", async () => {
    const path = `/tmp/${"x".repeat(103)}`; // 108 bytes
    await assert.rejects(connect({ path }), RangeError);
    await assert.rejects(listen({ path }), /at most 107 bytes/);
    assert.throws(() => bindDatagram({ path }), RangeError);
    await assert.rejects(
      connect({ abstract: "y".repeat(108) }),
      RangeError,
    );
  });

  test("bad addresses and options are TypeErrors or RangeErrors", async () => {
    await assert.rejects(connect({} as never), TypeError);
    await assert.rejects(
      connect({ path: "/a", abstract: "b" } as never),
      /exactly one of/,
    );
    await assert.rejects(
      connect({ hostname: "127.0.0.1", port: 70000 }),
      RangeError,
    );
    await assert.rejects(
      connect({ hostname: "127.0.0.1", port: "80" } as never),
      TypeError,
    );
    // connect() and listen() look names up (node:dns); a name that does
    // not resolve is its ENOTFOUND. bindDatagram() takes numbers only.
    await assert.rejects(
      connect({ hostname: "example.invalid", port: 80 }),
      (e: Error & { code?: string }) =>
        e.code === "ENOTFOUND" || e.code === "EAI_AGAIN",
    );
    assert.throws(
      () => bindDatagram({ hostname: "example.invalid", port: 0 }),
      /numeric IPv4 or IPv6/,
    );
    await assert.rejects(
      listen({ hostname: "127.0.0.1", port: 0, type: "seqpacket" }),
      /seqpacket sockets are Unix sockets/,
    );
    await assert.rejects(
      listen({ abstract: abstractName(), type: "raw" as never }),
      TypeError,
    );
    await assert.rejects(listen({ path: "/tmp/x", mode: 0o1777 }), RangeError);
    assert.throws(() => socketPair("raw" as never), TypeError);
    assert.throws(
      () => bindDatagram(undefined, { family: "ipx" as never }),
      TypeError,
    );
  });

  test("IPv6 addresses are parsed and printed in their short form", async () => {
    await using server = await listen({ hostname: "::1", port: 0 });
    assert.deepEqual(Object.keys(server.address), ["hostname", "port"]);
    const { hostname, port } = server.address as {
      hostname: string;
      port: number;
    };
    assert.equal(hostname, "::1");
    assert.ok(port > 0);
    await using client = await connect({
      hostname: "0:0:0:0:0:0:0:1",
      port,
    });
    assert.deepEqual(client.remoteAddress, { hostname: "::1", port });
    using d = bindDatagram({ hostname: "::ffff:127.0.0.1", port: 0 });
    assert.equal(
      (d.localAddress as { hostname: string }).hostname,
      "::ffff:7f00:1",
    );
  });
});

describe("socketPair", () => {
  test("seqpacket keeps record boundaries, empty records included, and ends with null", () => {
    const [a, b] = socketPair("seqpacket");
    using _b = b;
    a.sendSync("one");
    a.sendSync("");
    a.sendSync(new Uint16Array([0x4241]));
    assert.equal(decode(b.receiveSync()), "one");
    assert.equal(b.receiveSync()!.length, 0);
    assert.equal(decode(b.receiveSync()), "AB");
    assert.equal(b.tryReceive(), undefined);
    a.close();
    assert.equal(b.receiveSync(), null);
    assert.equal(b.tryReceive(), null);
  });

  test("30 KB seqpacket records stay whole, in order", async () => {
    const [a, b] = socketPair("seqpacket");
    using _a = a;
    using _b = b;
    const sending = (async () => {
      for (let i = 0; i < 200; i++) await a.send(recordBytes(i));
    })();
    for (let i = 0; i < 200; i++) {
      const got = await b.receive({ timeout: 10_000 });
      assert.deepEqual(got, recordBytes(i), `record ${i}`);
    }
    await sending;
  });

  test("a stream pair carries bytes both ways; closeWrite ends one direction only", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    await a.write("hello ");
    await a.write("world");
    a.closeWrite();
    assert.equal(decode(await readAll(b.readable)), "hello world");
    await b.write("back");
    assert.equal(decode(await a.receive({ timeout: 1000 })), "back");
    assert.throws(() => a.writeSync("more"), assertIpcError("EPIPE"));
  });

  test("Web Streams: writable chunks arrive, closing the writable ends the reader", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    const writer = a.writable.getWriter();
    const reading = readAll(b.readable).then((all) => all.length);
    for (let i = 0; i < 100; i++) await writer.write(new Uint8Array(10_000));
    await writer.close();
    assert.equal(await reading, 1_000_000);
  });

  test("cancelling the readable stops its pending read: later bytes go to receive()", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    const reader = b.readable.getReader();
    const pending = reader.read();
    await new Promise((r) => setTimeout(r, 10));
    await reader.cancel();
    assert.deepEqual(await pending, { done: true, value: undefined });
    a.writeSync("after");
    // A read left pending by the cancel would take these bytes as soon as
    // the reactor woke it: give it the chance, then look.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(decode(b.tryReceive()), "after");
  });

  test("a dgram pair sends datagrams to each other without addresses", () => {
    const [a, b] = socketPair("dgram");
    using _a = a;
    using _b = b;
    assert.ok(a instanceof DatagramSocket);
    a.sendSync("x");
    a.sendSync("yy");
    assert.equal(b.receiveSync().data.length, 1);
    assert.equal(b.receiveSync().data.length, 2);
  });

  test("read()/readSync()/tryRead() fill a caller's buffer", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    const buffer = new Uint8Array(4);
    assert.equal(b.tryRead(buffer), undefined);
    a.writeSync("abcdef");
    assert.equal(b.readSync(buffer), 4);
    assert.equal(decode(buffer), "abcd");
    assert.equal(await b.read(buffer), 2);
    assert.equal(a.tryWrite("z"), 1);
    assert.equal(b.tryRead(new Float32Array(1)), 1);
  });

  test("a seqpacket record larger than maxMessageSize is EMSGSIZE and discarded", () => {
    const [a, b] = socketPair("seqpacket");
    using _a = a;
    using small = SocketConnection.fromDescriptor(b.fd, {
      maxMessageSize: 16,
    });
    // b and small share the descriptor: close only `small`.
    a.sendSync(new Uint8Array(17));
    a.sendSync("fits");
    assert.throws(() => small.receiveSync(), assertIpcError("EMSGSIZE"));
    assert.equal(decode(small.receiveSync()), "fits");
    const tiny = new Uint8Array(2);
    a.sendSync("abc");
    assert.throws(() => small.readSync(tiny), /was 3 bytes/);
  });
});

describe("timeouts, abort and close", () => {
  test("receive() times out, aborts with the signal's reason, and rejects EBADF on close", async () => {
    const [a, b] = socketPair("seqpacket");
    using _a = a;
    await assert.rejects(
      b.receive({ timeout: 20 }),
      assertDomError("TimeoutError"),
    );
    const controller = new AbortController();
    const aborted = b.receive({ signal: controller.signal });
    controller.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    const pending = b.receive();
    b.close();
    await assert.rejects(pending, assertIpcError("EBADF"));
    assert.throws(() => b.receiveSync(), assertIpcError("EBADF"));
    assert.throws(() => b.fd, assertIpcError("EBADF"));
    b.close(); // twice: a no-op
  });

  test("write() and writeSync() of more than the socket holds time out when nobody reads", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    const big = new Uint8Array(8 << 20);
    await assert.rejects(
      a.write(big, { timeout: 30 }),
      assertDomError("TimeoutError"),
    );
    assert.throws(
      () => a.writeSync(big, { timeout: 30 }),
      assertDomError("TimeoutError"),
    );
  });

  test("receiveSync() and acceptSync() time out", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    assert.throws(
      () => b.receiveSync({ timeout: 10 }),
      assertDomError("TimeoutError"),
    );
    await using server = await listen({ abstract: abstractName() });
    assert.throws(
      () => server.acceptSync({ timeout: 10 }),
      assertDomError("TimeoutError"),
    );
  });

  test("closing a server ends its async iteration and rejects accept()", async () => {
    const server = await listen({ abstract: abstractName() });
    const pending = server.accept();
    const iterating = (async () => {
      let n = 0;
      for await (const _ of server) n++;
      return n;
    })();
    setTimeout(() => server.close(), 20);
    await assert.rejects(pending, assertIpcError("EBADF"));
    assert.equal(await iterating, 0);
  });

  test("connect() honours timeout and signal while a TCP connect is pending", async () => {
    // 192.0.2.1 (TEST-NET-1) is never routed: a connect to it hangs or
    // fails at once when there is no route at all.
    const outcome = await connect({
      hostname: "192.0.2.1",
      port: 9,
      timeout: 50,
    }).then(
      (c) => {
        c.close();
        return "connected";
      },
      (e: Error) => e.name === "TimeoutError" ? "timeout" : "failed",
    );
    assert.ok(outcome === "timeout" || outcome === "failed", outcome);
  });
});

describe("servers", () => {
  test("listen() gives the file its mode before anyone can connect, and removes it on close", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "a.sock");
      const server = await listen({ path });
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.ok(statSync(path).isSocket());
      server.close();
      assert.equal(existsSync(path), false);
      const old = process.umask(0o077);
      try {
        await using _wide = await listen({ path, mode: 0o666 });
        assert.equal(statSync(path).mode & 0o777, 0o666);
      } finally {
        process.umask(old);
      }
      assert.equal(existsSync(path), false);
    });
  });

  test("a stale socket file is reclaimed; a live one is EADDRINUSE; a plain file is left alone", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "stale.sock");
      // A stale file: a socket bound there and closed without removing it
      // leaves a socket file nothing listens on (a crashed server).
      const s = libc().socket(1, 1, 0);
      const addr = new Uint8Array(110);
      addr[0] = 1;
      addr.set(new TextEncoder().encode(path), 2);
      assert.equal(libc().bind(s, addr, 110), 0);
      libc().close(s);
      assert.ok(statSync(path).isSocket());
      await using server = await listen({ path });
      await assert.rejects(
        listen({ path }),
        (e: Error) =>
          assertIpcError("EADDRINUSE")(e) && /in use/.test(e.message),
      );
      await using _client = await connect({ path });
      assert.ok((await server.accept({ timeout: 1000 })) !== undefined);

      const plain = join(dir, "plain");
      writeFileSync(plain, "keep me");
      await assert.rejects(listen({ path: plain }), /not a socket/);
      assert.equal(statSync(plain).size, 7);
    });
  });

  test("the server removes only its own file: a replaced file stays", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "r.sock");
      const server = await listen({ path });
      rmSync(path);
      writeFileSync(path, "someone else's");
      server.close();
      assert.equal(existsSync(path), true);
    });
  });

  test("connecting to nothing: ENOENT for a missing file, ECONNREFUSED for a dead one or a closed port", async () => {
    await inDir(async (dir) => {
      await assert.rejects(
        connect({ path: join(dir, "none.sock") }),
        assertIpcError("ENOENT", "connect"),
      );
      const path = join(dir, "dead.sock");
      const s = libc().socket(1, 1, 0);
      const addr = new Uint8Array(110);
      addr[0] = 1;
      addr.set(new TextEncoder().encode(path), 2);
      libc().bind(s, addr, 110);
      libc().close(s);
      await assert.rejects(
        connect({ path }),
        assertIpcError("ECONNREFUSED", "connect"),
      );
      await assert.rejects(
        connect({ abstract: abstractName() }),
        assertIpcError("ECONNREFUSED"),
      );
      let port: number;
      {
        await using probe = await listen({ hostname: "127.0.0.1", port: 0 });
        port = (probe.address as { port: number }).port;
      }
      await assert.rejects(
        connect({ hostname: "127.0.0.1", port }),
        assertIpcError("ECONNREFUSED"),
      );
      await assert.rejects(
        connect({ abstract: abstractName(), type: "seqpacket" }),
        assertIpcError("ECONNREFUSED"),
      );
    });
  });

  test("a seqpacket client of a stream server is refused with EPROTOTYPE", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "s.sock");
      await using _server = await listen({ path });
      await assert.rejects(
        connect({ path, type: "seqpacket" }),
        assertIpcError("EPROTOTYPE"),
      );
    });
  });

  test("TCP over IPv4: addresses, echo, and no peer credentials", async () => {
    await using server = await listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = server.address as { port: number };
    await using client = await connect({ hostname: "localhost", port });
    await using conn = await server.accept({ timeout: 1000 });
    assert.deepEqual(conn.localAddress, { hostname: "127.0.0.1", port });
    assert.deepEqual(conn.remoteAddress, client.localAddress);
    await client.write("tcp");
    assert.equal(decode(await conn.receive({ timeout: 1000 })), "tcp");
    assert.throws(() => conn.peer, assertIpcError("ENOTSUP"));
    await assert.rejects(conn.sendFds([0], "x"), TypeError);
  });

  test("peer credentials of a Unix connection are this process's", async () => {
    const name = abstractName();
    await using server = await listen({ abstract: name, type: "seqpacket" });
    await using client = await connect({ abstract: name, type: "seqpacket" });
    await using conn = await server.accept();
    assert.deepEqual(conn.peer.pid, process.pid);
    assert.equal(conn.peer.uid, libc().getuid());
    assert.equal(client.peer.pid, process.pid);
    assert.deepEqual(client.remoteAddress, { abstract: name });
    assert.deepEqual(client.localAddress, { unnamed: true });
  });
});

describe("datagrams", () => {
  test("Unix datagrams keep boundaries and order, and say who sent them", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "d.sock");
      using server = bindDatagram({ path });
      assert.equal(statSync(path).mode & 0o777, 0o600);
      using named = bindDatagram({ abstract: abstractName() });
      using unnamed = bindDatagram();
      // 50 is more than the receiver queues (net.unix.max_dgram_qlen,
      // 10 by default): the sender waits for room as the receiver drains.
      const sending = (async () => {
        for (let i = 0; i < 50; i++) {
          await named.send(`n${i}`, { path }, { timeout: 10_000 });
        }
        unnamed.sendSync("u", { path });
      })();
      for (let i = 0; i < 50; i++) {
        const { data, from } = await server.receive({ timeout: 1000 });
        assert.equal(decode(data), `n${i}`);
        assert.deepEqual(from, named.localAddress);
      }
      await sending;
      const last = server.receiveSync();
      assert.deepEqual(last.from, { unnamed: true });
      server.close();
      assert.equal(existsSync(path), false);
    });
  });

  test("an oversize datagram: EMSGSIZE at the sender, or discarded over maxMessageSize at the receiver", async () => {
    const name = abstractName();
    using receiver = bindDatagram({ abstract: name }, { maxMessageSize: 100 });
    using sender = bindDatagram();
    await assert.rejects(
      sender.send(new Uint8Array(16 << 20), { abstract: name }),
      assertIpcError("EMSGSIZE"),
    );
    sender.sendSync(new Uint8Array(101), { abstract: name });
    sender.sendSync(new Uint8Array(100), { abstract: name });
    assert.throws(
      () => receiver.receiveSync(),
      (e: Error) =>
        assertIpcError("EMSGSIZE")(e) && /101 bytes/.test(e.message),
    );
    assert.equal(receiver.receiveSync().data.length, 100);
    using udp = bindDatagram({ hostname: "127.0.0.1", port: 0 });
    assert.throws(
      () =>
        udp.sendSync(new Uint8Array(70_000), {
          hostname: "127.0.0.1",
          port: 9,
        }),
      assertIpcError("EMSGSIZE"),
    );
  });

  test("UDP over IPv4 and IPv6: send, connect, receive with the sender's address", async () => {
    for (const hostname of ["127.0.0.1", "::1"]) {
      using a = bindDatagram({ hostname, port: 0 });
      using b = bindDatagram({ hostname, port: 0 });
      const to = a.localAddress as { hostname: string; port: number };
      await b.send("ping", to);
      const got = await a.receive({ timeout: 1000 });
      assert.equal(decode(got.data), "ping");
      assert.deepEqual(got.from, b.localAddress);
      b.connect(to);
      assert.deepEqual(b.remoteAddress, to);
      assert.equal(b.trySend("again"), true);
      assert.equal(decode(a.receiveSync({ timeout: 1000 }).data), "again");
      assert.throws(
        () => b.sendSync("x", { path: "/tmp/nope" }),
        /from a IPv/,
      );
    }
  });

  test("senders that alternate are each named right; an answer to `from` reaches the right one", () => {
    using server = bindDatagram({ hostname: "127.0.0.1", port: 0 });
    using a = bindDatagram({ hostname: "127.0.0.1", port: 0 });
    using b = bindDatagram({ hostname: "127.0.0.1", port: 0 });
    const to = server.localAddress as { hostname: string; port: number };
    for (let i = 0; i < 6; i++) {
      const sender = i % 3 === 2 ? a : [a, b][i % 2]!;
      sender.sendSync(`m${i}`, to);
      const { data, from } = server.receiveSync({ timeout: 1000 });
      assert.equal(decode(data), `m${i}`);
      assert.deepEqual(from, sender.localAddress);
      assert.ok(Object.isFrozen(from));
      server.sendSync(`r${i}`, from as { hostname: string; port: number });
      assert.equal(decode(sender.receiveSync({ timeout: 1000 }).data), `r${i}`);
    }
    // A plain (unfrozen) address is read afresh at every send.
    const target = { hostname: "127.0.0.1", port: 1 };
    target.port = (a.localAddress as { port: number }).port;
    server.sendSync("to a", target);
    target.port = (b.localAddress as { port: number }).port;
    server.sendSync("to b", target);
    assert.equal(decode(a.receiveSync({ timeout: 1000 }).data), "to a");
    assert.equal(decode(b.receiveSync({ timeout: 1000 }).data), "to b");
  });

  test("sending to a Unix path nobody is bound to fails (ENOENT / ECONNREFUSED)", async () => {
    using s = bindDatagram();
    assert.throws(
      () => s.sendSync("x", { path: `/tmp/${RUN_PREFIX}_none.sock` }),
      assertIpcError("ENOENT"),
    );
    assert.throws(
      () => s.sendSync("x", { abstract: abstractName() }),
      assertIpcError("ECONNREFUSED"),
    );
    await assert.rejects(
      s.receive({ timeout: 10 }),
      assertDomError("TimeoutError"),
    );
  });
});

describe("descriptors", () => {
  test("sendFds/receiveFds pass open files; received ones are close-on-exec and read with pread", async () => {
    for (const type of ["stream", "seqpacket"] as const) {
      const [a, b] = socketPair(type);
      using _a = a;
      using _b = b;
      const memfd = libc().memfd_create(new TextEncoder().encode("t\0"), 0);
      const text = new TextEncoder().encode("shared file");
      libc().write(memfd, text, text.length);
      await a.sendFds([memfd], "with fd");
      libc().close(memfd);
      const got = await b.receiveFds({ timeout: 1000 });
      assert.ok(got !== null);
      assert.equal(decode(got.data), "with fd");
      assert.equal(got.fds.length, 1);
      assert.equal(got.truncated, false);
      const fd = got.fds[0]!;
      assert.equal(libc().fcntl(fd, 1, /* F_GETFD */ 0), 1 /* FD_CLOEXEC */);
      const back = new Uint8Array(32);
      const n = libc().pread(fd, back, 32, 0);
      assert.equal(decode(back.subarray(0, n)), "shared file");
      libc().close(fd);
    }
  });

  test("more descriptors than maxFds: the rest are closed (truncated), none leak", () => {
    const [a, b] = socketPair("seqpacket");
    using _a = a;
    using _b = b;
    const before = openFdCount();
    a.sendFdsSync([0, 1, 2, 0, 1], "five");
    const got = b.receiveFdsSync({ maxFds: 2 });
    assert.ok(got !== null);
    assert.equal(got.fds.length, 2);
    assert.equal(got.truncated, true);
    for (const fd of got.fds) libc().close(fd);
    assert.equal(openFdCount(), before);
    // Descriptors nobody asks for (a plain receive) are closed by the kernel.
    a.sendFdsSync([0, 1, 2], "dropped");
    assert.equal(decode(b.receiveSync()), "dropped");
    assert.equal(openFdCount(), before);
  });

  test("sendFds() sends the bytes of a view at an offset", () => {
    const [a, b] = socketPair("seqpacket");
    using _a = a;
    using _b = b;
    a.sendFdsSync([0], new TextEncoder().encode("0123456789").subarray(3, 6));
    const got = b.receiveFdsSync({ timeout: 1000 });
    assert.equal(decode(got?.data), "345");
    for (const fd of got?.fds ?? []) libc().close(fd);
  });

  test("fromDescriptor() checks what it wraps", () => {
    const [a, b] = socketPair("dgram");
    using _a = a;
    using _b = b;
    assert.throws(() => SocketConnection.fromDescriptor(a.fd), TypeError);
    const [c, d] = socketPair("stream");
    using _c = c;
    using _d = d;
    assert.throws(() => DatagramSocket.fromDescriptor(c.fd), TypeError);
    const efd = libc().eventfd(0, 0x80000);
    try {
      assert.throws(
        () => SocketConnection.fromDescriptor(efd),
        assertIpcError("ENOTSOCK"),
      );
    } finally {
      libc().close(efd);
    }
    assert.throws(() => SocketConnection.fromDescriptor(-1), RangeError);
  });

  test("datagram sockets pass descriptors too, with the sender's address", async () => {
    const name = abstractName();
    using receiver = bindDatagram({ abstract: name });
    using sender = bindDatagram({ abstract: abstractName() });
    const memfd = libc().memfd_create(cString("dgram"), 0);
    const text = new TextEncoder().encode("via datagram");
    libc().write(memfd, text, text.length);
    await sender.sendFds([memfd, memfd], "two", { abstract: name });
    libc().close(memfd);
    const got = await receiver.receiveFds({ timeout: 1000, maxFds: 1 });
    assert.equal(decode(got.data), "two");
    assert.deepEqual(got.from, sender.localAddress);
    assert.equal(got.fds.length, 1);
    assert.equal(got.truncated, true);
    const back = new Uint8Array(32);
    const n = libc().pread(got.fds[0]!, back, 32, 0);
    assert.equal(decode(back.subarray(0, n)), "via datagram");
    libc().close(got.fds[0]!);
    assert.equal(receiver.tryReceiveFds(), undefined);
    using udp = bindDatagram({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(
      udp.sendFds([0], "x", { hostname: "127.0.0.1", port: 9 }),
      TypeError,
    );
    assert.throws(() => udp.receiveFdsSync({ timeout: 1 }), TypeError);
  });

  test("sendFds() checks its input", async () => {
    const [a, b] = socketPair("stream");
    using _a = a;
    using _b = b;
    await assert.rejects(a.sendFds([], "x"), RangeError);
    await assert.rejects(a.sendFds([-1], "x"), RangeError);
    await assert.rejects(a.sendFds([0]), /at least one byte/);
    await assert.rejects(a.sendFds("0" as never, "x"), TypeError);
    await assert.rejects(a.sendFds([9999], "x"), assertIpcError("EBADF"));
    assert.equal(b.tryReceiveFds(), undefined);
  });

  test("a socket file gets the mode asked for (0o640)", async () => {
    await inDir(async (dir) => {
      chmodSync(dir, 0o755);
      const path = join(dir, "m.sock");
      await using _server = await listen({ path, mode: 0o640 });
      assert.equal(statSync(path).mode & 0o777, 0o640);
    });
  });
});
