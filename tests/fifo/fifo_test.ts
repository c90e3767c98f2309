import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createFifo, openFifo, removeFifo } from "../../fifo/mod.ts";
import {
  CURRENT,
  killPeers,
  rootTest,
  type Runtime,
  RUNTIMES,
  startPeer,
  succeeded,
  testDir,
} from "../helpers/peer.ts";
import { assertDomError, assertIpcError } from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/pipe_peer.ts";
const OTHER: Runtime = CURRENT === "deno" ? "bun" : "deno";
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A fresh directory for one test's FIFOs, removed afterwards. */
async function inDir(
  label: string,
  fn: (dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = testDir(label);
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("createFifo() makes a FIFO, reports EEXIST, reuses only when asked; removeFifo() removes it", () =>
  inDir("fifo-create", (dir) => {
    const path = join(dir, "jobs.fifo");
    assert.equal(createFifo(path, { mode: 0o640 }), true);
    const stat = lstatSync(path);
    assert.ok(stat.isFIFO());
    assert.equal(stat.mode & 0o777 & ~0o640, 0); // the umask may only clear bits
    assert.throws(() => createFifo(path), (e: unknown) => {
      assertIpcError("EEXIST", "mkfifo", path)(e);
      assert.match((e as Error).message, /reuse: true/);
      return true;
    });
    assert.equal(createFifo(path, { reuse: true }), false);
    removeFifo(path);
    assert.equal(existsSync(path), false);
    assert.throws(
      () => removeFifo(path),
      assertIpcError("ENOENT", "open", path),
    );
    assert.throws(
      () => createFifo(join(dir, "missing", "x.fifo")),
      assertIpcError("ENOENT", "mkfifo"),
    );
  }));

test("a regular file, a directory or a symlink is never taken for a FIFO", () =>
  inDir("fifo-kinds", async (dir) => {
    const fifo = join(dir, "real.fifo");
    createFifo(fifo);
    const file = join(dir, "file");
    writeFileSync(file, "keep me");
    const sub = join(dir, "sub");
    mkdirSync(sub);
    const link = join(dir, "link.fifo");
    symlinkSync(fifo, link);
    for (
      const [path, kind] of [
        [file, "a regular file"],
        [sub, "a directory"],
        [link, "a symbolic link"],
      ] as const
    ) {
      const isKind = (code: string) => (e: unknown) => {
        assertIpcError(code)(e);
        assert.match((e as Error).message, new RegExp(`${kind}, not a FIFO`));
        return true;
      };
      assert.throws(() => createFifo(path, { reuse: true }), isKind("EEXIST"));
      assert.throws(() => removeFifo(path), isKind("EINVAL"));
      await assert.rejects(
        openFifo(path, "read", { timeout: 100 }),
        isKind("EINVAL"),
      );
      await assert.rejects(
        openFifo(path, "write", { timeout: 100 }),
        isKind("EINVAL"),
      );
    }
    assert.equal(readFileSync(file, "utf8"), "keep me");
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.ok(lstatSync(fifo).isFIFO());
  }));

test("bad input: TypeError and RangeError before any syscall", async () => {
  assert.throws(() => createFifo("" as string), TypeError);
  assert.throws(() => createFifo(5 as never), TypeError);
  assert.throws(() => createFifo("/tmp/a\0b"), TypeError);
  assert.throws(() => createFifo("/tmp/x", { mode: 0o1777 }), RangeError);
  assert.throws(
    () => createFifo("/tmp/x", { mode: "600" as never }),
    TypeError,
  );
  assert.throws(() => createFifo("/tmp/x", { reuse: 1 as never }), TypeError);
  assert.throws(() => removeFifo(undefined as never), TypeError);
  await assert.rejects(openFifo("/tmp/x", "append" as never), TypeError);
  await assert.rejects(openFifo(null as never, "read"), TypeError);
  await assert.rejects(
    openFifo("/tmp/x", "read", { spin: 2_000_000 }),
    RangeError,
  );
});

test("openFifo() for read waits for a writer, for write waits for a reader; both time out and abort", () =>
  inDir("fifo-wait", async (dir) => {
    const path = join(dir, "w.fifo");
    createFifo(path);
    await assert.rejects(
      openFifo(path, "write", { timeout: 50 }),
      assertDomError("TimeoutError"),
    );
    await assert.rejects(
      openFifo(path, "read", { timeout: 50 }),
      assertDomError("TimeoutError"),
    );
    const controller = new AbortController();
    const opening = openFifo(path, "write", { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(opening, assertDomError("AbortError"));
    const reading = openFifo(path, "read", { signal: controller.signal });
    await assert.rejects(reading, assertDomError("AbortError"));
    // The event loop runs while an open waits.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const waiting = openFifo(path, "read", { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    const writer = await openFifo(path, "write", { timeout: 5000 });
    const reader = await waiting;
    clearInterval(timer);
    assert.ok(ticks >= 5, `only ${ticks} ticks`);
    await writer.write("hi");
    const buffer = new Uint8Array(8);
    assert.equal(await reader.read(buffer), 2);
    assert.equal(text(buffer.subarray(0, 2)), "hi");
    writer.close();
    assert.equal(await reader.read(buffer), null);
    reader.close();
    // No descriptor of a failed open is left: the FIFO has no reader now.
    await assert.rejects(
      openFifo(path, "write", { timeout: 30 }),
      assertDomError("TimeoutError"),
    );
  }));

test("openFifo('read') notices a writer that opens but does not write yet", () =>
  inDir("fifo-silent", async (dir) => {
    const path = join(dir, "s.fifo");
    createFifo(path);
    const child = startPeer("exec", "sh", [
      "-c",
      `exec 3>${path}; exec sleep 30`,
    ]);
    await using reader = await openFifo(path, "read", { timeout: 10_000 });
    assert.equal(reader.tryRead(new Uint8Array(4)), undefined);
    child.kill("SIGKILL");
    assert.equal(await reader.read(new Uint8Array(4), { timeout: 5000 }), null);
  }));

for (const runtime of [OTHER, CURRENT]) {
  test(`5,000 lines through a FIFO written by a ${runtime} process, in order`, () =>
    inDir("fifo-lines", async (dir) => {
      const path = join(dir, "lines.fifo");
      createFifo(path);
      const count = 5000;
      const child = startPeer(runtime, PEER, [
        "fifo-lines",
        path,
        String(count),
      ]);
      await using reader = await openFifo(path, "read", { timeout: 20_000 });
      let got = "";
      const buffer = new Uint8Array(1000);
      for (let i = 0;; i++) {
        const n = i % 2 === 0
          ? await reader.read(buffer)
          : reader.readSync(buffer, { timeout: 20_000 });
        if (n === null) break;
        got += text(buffer.subarray(0, n));
      }
      assert.equal(await succeeded(child), "wrote");
      const lines = got.split("\n");
      assert.equal(lines.pop(), "");
      assert.equal(lines.length, count);
      lines.forEach((line, i) => assert.equal(line, `line ${i}`));
    }));
}

test("writes of PIPE_BUF bytes from two writer processes stay whole; EOF after the last writer", () =>
  inDir("fifo-atomic", async (dir) => {
    const path = join(dir, "a.fifo");
    createFifo(path);
    const records = 300;
    // A writer of our own keeps EOF away until both peers are done (one may
    // finish before the other opens).
    const reading = openFifo(path, "read", { timeout: 20_000 });
    const ours = await openFifo(path, "write", { timeout: 20_000 });
    await using reader = await reading;
    const collecting = new Response(reader.readable).arrayBuffer();
    const a = startPeer(CURRENT, PEER, [
      "fifo-records",
      path,
      "a",
      String(records),
    ]);
    const b = startPeer(OTHER, PEER, [
      "fifo-records",
      path,
      "b",
      String(records),
    ]);
    assert.equal(await succeeded(a), "wrote");
    assert.equal(await succeeded(b), "wrote");
    ours.close(); // the last writer: EOF
    const all = new Uint8Array(await collecting);
    assert.equal(all.length, 2 * records * 4096);
    const seen = { a: 0, b: 0 };
    for (let at = 0; at < all.length; at += 4096) {
      const record = all.subarray(at, at + 4096);
      const tag = record[0]!;
      assert.ok(record.every((v) => v === tag), `record at ${at} is mixed`);
      seen[String.fromCharCode(tag) as "a" | "b"]++;
    }
    assert.deepEqual(seen, { a: records, b: records });
  }));

test("writing to a FIFO whose readers closed is IpcError EPIPE; a waiting read rejects EBADF on close", () =>
  inDir("fifo-epipe", async (dir) => {
    const path = join(dir, "e.fifo");
    createFifo(path);
    const reading = openFifo(path, "read");
    await using writer = await openFifo(path, "write", { timeout: 5000 });
    const reader = await reading;
    const pending = reader.read(new Uint8Array(8));
    setTimeout(() => reader.close(), 20);
    await assert.rejects(pending, assertIpcError("EBADF"));
    assert.throws(() => writer.writeSync("x"), (e: unknown) => {
      assertIpcError("EPIPE", "write", path)(e);
      assert.match((e as Error).message, /reading end is closed/);
      return true;
    });
    await assert.rejects(writer.write("x"), assertIpcError("EPIPE"));
    assert.throws(() => writer.tryWrite("x"), assertIpcError("EPIPE"));
    writer.close();
    assert.throws(() => writer.writeSync("x"), assertIpcError("EBADF"));
    await writer[Symbol.asyncDispose](); // closing twice is a no-op
  }));

test("FIFO streams: a writable into a readable, ends closed by the streams", () =>
  inDir("fifo-streams", async (dir) => {
    const path = join(dir, "s.fifo");
    createFifo(path);
    const reading = openFifo(path, "read");
    const writer = await openFifo(path, "write");
    const reader = await reading;
    const data = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    const writing = (async () => {
      const w = writer.writable.getWriter();
      await w.write(data);
      await w.write("tail");
      await w.close();
    })();
    const got = new Uint8Array(
      await new Response(reader.readable).arrayBuffer(),
    );
    await writing;
    assert.equal(got.length, data.length + 4);
    assert.ok(data.every((v, i) => got[i] === v));
    assert.equal(text(got.subarray(data.length)), "tail");
    assert.equal(reader.closed && writer.closed, true);
  }));

rootTest(
  "a nobody process cannot open a 0600 FIFO of root's (EACCES), in both runtimes",
  "runs the peer as nobody",
  () =>
    inDir("fifo-nobody", async (dir) => {
      chmodSync(dir, 0o755);
      const path = join(dir, "private.fifo");
      createFifo(path, { mode: 0o600 });
      for (const runtime of RUNTIMES) {
        for (const access of ["read", "write"]) {
          const child = startPeer(runtime, PEER, ["fifo-open", path, access], {
            user: "nobody",
          });
          assert.equal(
            await succeeded(child),
            "EACCES",
            `${runtime} ${access}`,
          );
        }
      }
    }),
);
