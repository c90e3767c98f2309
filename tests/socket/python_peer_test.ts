// ipckit sockets against a peer written with Python's standard library
// (tests/helpers/socket_peer.py): seqpacket echo, datagram echo, an
// abstract stream, and descriptors sent with SCM_RIGHTS both ways.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { cString, libc } from "../../ffi/mod.ts";
import { bindDatagram, connect, listen } from "../../socket/mod.ts";
import {
  killPeers,
  nextLine,
  RUN_PREFIX,
  startPeer,
  succeeded,
  testDir,
} from "../helpers/peer.ts";
import { readAll, recordBytes } from "../helpers/socket_pattern.ts";

const PEER = "tests/helpers/socket_peer.py";
const python = (() => {
  try {
    execFileSync("python3", ["-c", "import socket; socket.send_fds"], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
})();
const reason = "python3 3.9+ (socket.send_fds) is not installed";
if (!python) console.log(`SKIP python peer tests: ${reason}`);
const pyTest = (name: string, fn: () => Promise<void>) =>
  python ? test(name, fn) : test(name, { skip: reason }, fn);

afterEach(killPeers);

const decode = (b: Uint8Array | null | undefined) =>
  b ? new TextDecoder().decode(b) : String(b);

async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = testDir("pysock");
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function py(args: string[]) {
  return startPeer("exec", "python3", [PEER, ...args]);
}

describe("a Python stdlib peer", () => {
  pyTest(
    "seqpacket echo: 100 records up to 30 KB come back whole and in order",
    async () => {
      await inDir(async (dir) => {
        const path = join(dir, "seq.sock");
        const child = py(["seqpacket-echo", path]);
        assert.equal(await nextLine(child), "ready");
        await using conn = await connect({ path, type: "seqpacket" });
        for (let i = 0; i < 100; i++) {
          await conn.send(recordBytes(i));
          assert.deepEqual(
            await conn.receive({ timeout: 10_000 }),
            recordBytes(i),
          );
        }
        conn.close();
        await succeeded(child);
      });
    },
  );

  pyTest(
    "datagram echo: each datagram answered to our abstract address",
    async () => {
      await inDir(async (dir) => {
        const path = join(dir, "dgram.sock");
        const child = py(["dgram-echo", path]);
        assert.equal(await nextLine(child), "ready");
        const own = `${RUN_PREFIX}_${crypto.randomUUID().slice(0, 8)}`;
        using socket = bindDatagram({ abstract: own });
        for (let i = 0; i < 50; i++) {
          const data = recordBytes(i).subarray(0, 1 + i * 97);
          await socket.send(data, { path });
          const got = await socket.receive({ timeout: 10_000 });
          assert.deepEqual(got.data, data);
          assert.deepEqual(got.from, { path });
        }
        socket.sendSync("quit", { path });
        await succeeded(child);
      });
    },
  );

  pyTest(
    "abstract stream: bytes echoed, half-close ends the exchange",
    async () => {
      const name = `${RUN_PREFIX}_${crypto.randomUUID().slice(0, 8)}`;
      const child = py(["abstract-echo", name]);
      assert.equal(await nextLine(child), "ready");
      await using conn = await connect({ abstract: name, timeout: 10_000 });
      const sent = recordBytes(3);
      await conn.write(sent);
      conn.closeWrite();
      assert.deepEqual(await readAll(conn.readable), sent);
      await succeeded(child);
    },
  );

  pyTest(
    "SCM_RIGHTS from Python: the memfd arrives, readable with pread",
    async () => {
      await inDir(async (dir) => {
        const path = join(dir, "fd.sock");
        await using server = await listen({ path, type: "seqpacket" });
        const child = py(["send-fd", path, "from python"]);
        await using conn = await server.accept({ timeout: 10_000 });
        const got = await conn.receiveFds({ timeout: 10_000 });
        assert.ok(got !== null);
        assert.equal(decode(got.data), "fd");
        assert.equal(got.fds.length, 1);
        const buffer = new Uint8Array(64);
        const n = libc().pread(got.fds[0]!, buffer, 64, 0);
        assert.equal(decode(buffer.subarray(0, n)), "from python");
        libc().close(got.fds[0]!);
        conn.close();
        await succeeded(child);
      });
    },
  );

  pyTest("SCM_RIGHTS to Python: it reads our memfd", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "rfd.sock");
      const child = py(["recv-fd", path]);
      assert.equal(await nextLine(child), "ready");
      await using conn = await connect({ path, type: "seqpacket" });
      const fd = libc().memfd_create(cString("ipckit-test"), 1);
      const text = new TextEncoder().encode("from ipckit");
      libc().write(fd, text, text.length);
      await conn.sendFds([fd], "hello");
      libc().close(fd);
      assert.match(await succeeded(child), /\ngot hello 1 from ipckit$/);
    });
  });
});
