// Sockets across real processes: a Deno server with a Bun client and the
// reverse for every socket type, credentials, 100 concurrent clients, a
// peer that dies mid-message, 1 GiB with a checksum, and a socket file
// that refuses `nobody`.
import assert from "node:assert/strict";
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { cString, libc } from "../../ffi/mod.ts";
import {
  bindDatagram,
  connect,
  listen,
  type SocketConnection,
  type SocketConnectionType,
  type SocketEndpoint,
} from "../../socket/mod.ts";
import {
  CURRENT,
  finished,
  killPeers,
  nextLine,
  rootTest,
  RUN_PREFIX,
  runPeerOk,
  type Runtime,
  startPeer,
  succeeded,
  testDir,
} from "../helpers/peer.ts";
import { blocksChecksum } from "../helpers/socket_pattern.ts";

const PEER = "tests/helpers/socket_peer.ts";
const OTHER: Runtime = CURRENT === "deno" ? "bun" : "deno";
const PAIRS: [Runtime, Runtime][] = [["deno", "bun"], ["bun", "deno"]];

afterEach(killPeers);

function abstractName(): string {
  return `${RUN_PREFIX}_${crypto.randomUUID().slice(0, 8)}`;
}

async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = testDir("sock");
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Where = "path" | "abstract" | "ipv4" | "ipv6";

function where(kind: Where, dir: string): SocketEndpoint {
  switch (kind) {
    case "path":
      return { path: join(dir, "s.sock") };
    case "abstract":
      return { abstract: abstractName() };
    case "ipv4":
      return { hostname: "127.0.0.1", port: 0 };
    case "ipv6":
      return { hostname: "::1", port: 0 };
  }
}

/** A peer's "ready <address>" line, with the address it bound. */
async function ready(child: ReturnType<typeof startPeer>): Promise<string> {
  const line = await nextLine(child);
  assert.match(line, /^ready /);
  return line.slice("ready ".length);
}

describe("connections across runtimes", () => {
  const cases: [SocketConnectionType, Where][] = [
    ["stream", "path"],
    ["stream", "abstract"],
    ["stream", "ipv4"],
    ["stream", "ipv6"],
    ["seqpacket", "path"],
    ["seqpacket", "abstract"],
  ];
  for (const [type, kind] of cases) {
    for (const [server, client] of PAIRS) {
      test(`${type} over ${kind}: a ${server} server echoes a ${client} client's 40 records (up to 30 KB) exactly`, async () => {
        await inDir(async (dir) => {
          const s = startPeer(server, PEER, [
            "server",
            type,
            JSON.stringify(where(kind, dir)),
            "1",
          ]);
          const address = await ready(s);
          const out = await runPeerOk(client, PEER, [
            "client",
            type,
            address,
            "40",
          ]);
          assert.match(out, /^ok \d+ \d+$/);
          assert.match(await succeeded(s), /\ndone 1$/);
        });
      });
    }
  }
});

describe("datagrams across runtimes", () => {
  const kinds: Where[] = ["path", "abstract", "ipv4", "ipv6"];
  for (const kind of kinds) {
    for (const [server, client] of PAIRS) {
      test(`datagrams over ${kind}: a ${server} echo answers a ${client} sender's 50 datagrams in order`, async () => {
        await inDir(async (dir) => {
          const s = startPeer(server, PEER, [
            "dgram-echo",
            JSON.stringify(where(kind, dir)),
          ]);
          const address = await ready(s);
          const own = kind === "path" || kind === "abstract"
            ? JSON.stringify({ abstract: abstractName() })
            : "-";
          assert.equal(
            await runPeerOk(client, PEER, ["dgram-client", address, own, "50"]),
            "ok",
          );
          using quit = kind === "ipv6"
            ? bindDatagram(undefined, { family: "ipv6" })
            : kind === "ipv4"
            ? bindDatagram(undefined, { family: "ipv4" })
            : bindDatagram();
          await quit.send("quit", JSON.parse(address) as SocketEndpoint);
          await succeeded(s);
        });
      });
    }
  }
});

describe("descriptors across runtimes", () => {
  for (const type of ["stream", "seqpacket"] as const) {
    test(`${type}: a memfd sent by a ${OTHER} peer is read here with pread`, async () => {
      await inDir(async (dir) => {
        const path = join(dir, "fd.sock");
        await using server = await listen({ path, type });
        const child = startPeer(OTHER, PEER, [
          "send-fd",
          type,
          JSON.stringify({ path }),
          `from ${OTHER}`,
        ]);
        await using conn = await server.accept({ timeout: 30_000 });
        const got = await conn.receiveFds({ timeout: 30_000 });
        assert.ok(got !== null);
        assert.equal(new TextDecoder().decode(got.data), "fd");
        assert.equal(got.fds.length, 1);
        const buffer = new Uint8Array(64);
        const n = libc().pread(got.fds[0]!, buffer, 64, 0);
        libc().close(got.fds[0]!);
        assert.equal(
          new TextDecoder().decode(buffer.subarray(0, n)),
          `from ${OTHER}`,
        );
        conn.close();
        await succeeded(child);
      });
    });

    test(`${type}: a memfd sent from here is read by a ${OTHER} peer`, async () => {
      await inDir(async (dir) => {
        const path = join(dir, "fd.sock");
        const child = startPeer(OTHER, PEER, [
          "recv-fd",
          type,
          JSON.stringify({ path }),
        ]);
        assert.equal(await nextLine(child), "ready");
        await using conn = await connect({ path, type, timeout: 30_000 });
        const fd = libc().memfd_create(cString("ipckit-test"), 1);
        const text = new TextEncoder().encode(`from ${CURRENT}`);
        libc().write(fd, text, text.length);
        await conn.sendFds([fd, fd], "two");
        libc().close(fd);
        assert.match(
          await succeeded(child),
          new RegExp(`\\ngot two 2 from ${CURRENT}$`),
        );
      });
    });
  }
});

describe("credentials and permissions", () => {
  test(`peer credentials equal the ${OTHER} client's real pid and uid`, async () => {
    const name = abstractName();
    await using server = await listen({ abstract: name });
    const child = startPeer(OTHER, PEER, [
      "creds",
      JSON.stringify({ abstract: name }),
    ]);
    await using conn = await server.accept({ timeout: 30_000 });
    const line = new TextDecoder().decode(
      (await conn.receive({ timeout: 30_000 }))!,
    ).trim();
    const [pid, uid] = line.split(" ").map(Number);
    assert.equal(conn.peer.pid, child.pid);
    assert.equal(conn.peer.pid, pid);
    assert.equal(conn.peer.uid, uid);
    assert.equal(conn.peer.uid, libc().getuid());
    conn.close();
    await succeeded(child);
  });

  rootTest(
    "a socket file made 0600 refuses a nobody client (EACCES); 0666 lets it in, and its credentials say nobody",
    "runs the client as nobody",
    async () => {
      await inDir(async (dir) => {
        chmodSync(dir, 0o755);
        const path = join(dir, "private.sock");
        {
          await using _server = await listen({ path, mode: 0o600 });
          const out = await runPeerOk(
            OTHER,
            PEER,
            ["connect-expect", JSON.stringify({ path })],
            { user: "nobody" },
          );
          assert.equal(out, "EACCES");
        }
        const open = join(dir, "open.sock");
        await using server = await listen({ path: open, mode: 0o666 });
        const child = startPeer(OTHER, PEER, [
          "creds",
          JSON.stringify({ path: open }),
        ], { user: "nobody" });
        await using conn = await server.accept({ timeout: 30_000 });
        const line = new TextDecoder().decode(
          (await conn.receive({ timeout: 30_000 }))!,
        );
        assert.equal(line, `${child.pid} 65534\n`);
        assert.equal(conn.peer.uid, 65534);
        assert.equal(conn.peer.pid, child.pid);
        conn.close();
        await succeeded(child);
      });
    },
  );
  rootTest(
    "listening where another user's live 0600 socket is bound is EADDRINUSE: its file is never taken for stale and removed",
    "runs the second listener as nobody",
    async () => {
      await inDir(async (dir) => {
        chmodSync(dir, 0o777); // nobody may create and delete files here
        const path = join(dir, "busy.sock");
        await using server = await listen({ path, mode: 0o600 });
        const out = await runPeerOk(
          OTHER,
          PEER,
          ["listen-expect", JSON.stringify({ path })],
          { user: "nobody" },
        );
        assert.equal(out, "EADDRINUSE");
        // Still ours: a client of this process gets through.
        await using client = await connect({ path, timeout: 10_000 });
        await using conn = await server.accept({ timeout: 10_000 });
        client.writeSync("x");
        assert.equal(conn.readSync(new Uint8Array(1)), 1);
      });
    },
  );
});

describe("load and failure", () => {
  for (const type of ["stream", "seqpacket"] as const) {
    test(`100 concurrent ${type} clients (50 Deno, 50 Bun) on one server are each echoed exactly`, async () => {
      const name = abstractName();
      await using server = await listen({ abstract: name, type });
      const echoes: Promise<number>[] = [];
      const serving = (async () => {
        for await (const conn of server) {
          echoes.push(echo(conn));
          if (echoes.length === 100) break;
        }
      })();
      const to = JSON.stringify({ abstract: name });
      const outs = await Promise.all([
        runPeerOk("deno", PEER, ["clients", type, to, "50", "5"], {
          timeout: 120_000,
        }),
        runPeerOk("bun", PEER, ["clients", type, to, "50", "5"], {
          timeout: 120_000,
        }),
      ]);
      assert.deepEqual(outs, ["ok 50", "ok 50"]);
      await serving;
      const records = await Promise.all(echoes);
      assert.equal(records.length, 100);
    });
  }

  for (const type of ["stream", "seqpacket"] as const) {
    test(`a ${type} peer killed after sending: the server gets its bytes, then the end (no hang)`, async () => {
      const name = abstractName();
      await using server = await listen({ abstract: name, type });
      const child = startPeer(OTHER, PEER, [
        "die-mid",
        type,
        JSON.stringify({ abstract: name }),
        "1000",
      ]);
      await using conn = await server.accept({ timeout: 30_000 });
      let total = 0;
      for (;;) {
        const chunk = await conn.receive({ timeout: 30_000 });
        if (chunk === null) break;
        total += chunk.length;
      }
      assert.equal(total, 1000);
      assert.equal((await finished(child)).signal, "SIGKILL");
    });
  }

  test("a peer killed while the server waits to write: write() rejects EPIPE or ECONNRESET, no hang", async () => {
    const name = abstractName();
    await using server = await listen({ abstract: name });
    const child = startPeer(OTHER, PEER, [
      "die-mid",
      "stream",
      JSON.stringify({ abstract: name }),
      "1",
    ]);
    await using conn = await server.accept({ timeout: 30_000 });
    await assert.rejects(
      (async () => {
        for (;;) await conn.write(new Uint8Array(1 << 20), { timeout: 30_000 });
      })(),
      (e: Error & { code?: string }) =>
        e.code === "EPIPE" || e.code === "ECONNRESET",
    );
    void child;
  });

  test(`1 GiB over a Unix stream socket to a ${OTHER} reader arrives whole (checksum)`, async () => {
    const name = abstractName();
    await using server = await listen({ abstract: name });
    const child = startPeer(OTHER, PEER, [
      "sink",
      JSON.stringify({ abstract: name }),
    ]);
    await using conn = await server.accept({ timeout: 30_000 });
    const block = new Uint8Array(1 << 20);
    const words = new Uint32Array(block.buffer);
    for (let i = 1; i < words.length; i++) words[i] = Math.imul(i, 2654435761);
    const expected = blocksChecksum(block, 1024);
    const start = performance.now();
    for (let i = 0; i < 1024; i++) {
      words[0] = i; // every block differs: a lost or repeated one shows
      await conn.write(block);
    }
    conn.close();
    const seconds = (performance.now() - start) / 1000;
    const out = await succeeded(child, { timeout: 120_000 });
    assert.equal(out, `${1 << 30} ${expected.join(" ")}`);
    console.log(
      `1 GiB in ${seconds.toFixed(2)} s (${
        (1.073741824 / seconds).toFixed(2)
      } GB/s, the reader checksumming)`,
    );
  });
});

async function echo(conn: SocketConnection): Promise<number> {
  let n = 0;
  for (;;) {
    const chunk = await conn.receive({ timeout: 60_000 });
    if (chunk === null) break;
    await conn.send(chunk);
    n++;
  }
  conn.close();
  return n;
}
