import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { createPipe, PipeReader, PipeWriter } from "../../pipe/mod.ts";
import {
  CURRENT,
  killPeers,
  runPeerOk,
  type Runtime,
  RUNTIMES,
  startPeer,
  succeeded,
} from "../helpers/peer.ts";
import { assertDomError, assertIpcError } from "../helpers/assert.ts";
import { checksum } from "../helpers/pipe_pattern.ts";

afterEach(killPeers);

const PEER = "tests/helpers/pipe_peer.ts";
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const OTHER: Runtime = CURRENT === "deno" ? "bun" : "deno";

test("createPipe() moves bytes through sync, async and try reads and writes", async () => {
  using pipe = createPipe();
  const { reader, writer } = pipe;
  const buffer = new Uint8Array(64);
  assert.equal(reader.tryRead(buffer), undefined);
  assert.equal(writer.writeSync("sync"), 4);
  assert.equal(reader.tryRead(buffer), 4);
  assert.equal(text(buffer.subarray(0, 4)), "sync");
  assert.equal(await writer.write(new Uint8Array([1, 2, 3])), 3);
  assert.equal(reader.readSync(buffer), 3);
  assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
  assert.equal(writer.tryWrite("try"), 3);
  assert.equal(await reader.read(buffer, { timeout: 1000 }), 3);
  // An async read waits for a later write without blocking the loop.
  const pending = reader.read(buffer);
  setTimeout(() => writer.writeSync("later"), 20);
  assert.equal(await pending, 5);
  assert.equal(text(buffer.subarray(0, 5)), "later");
  assert.equal(reader.readSync(new Uint8Array(0)), 0);
});

test("PipeReader sees EOF (null) once every writer closed, in every form", async () => {
  const a = createPipe();
  a.writer.writeSync("x");
  a.writer.close();
  const buffer = new Uint8Array(8);
  assert.equal(a.reader.readSync(buffer), 1);
  assert.equal(a.reader.readSync(buffer), null);
  assert.equal(a.reader.tryRead(buffer), null);
  assert.equal(await a.reader.read(buffer), null);
  a.reader.close();
  // EOF wakes a pending async read.
  const b = createPipe();
  const pending = b.reader.read(buffer);
  setTimeout(() => b.writer.close(), 20);
  assert.equal(await pending, null);
  b.reader.close();
});

test("Web Streams: 4 MiB through writable and readable, ends closed by the streams", async () => {
  const { reader, writer } = createPipe();
  const data = new Uint8Array(4 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const writing = (async () => {
    const w = writer.writable.getWriter();
    for (let at = 0; at < data.length; at += 100_000) {
      await w.write(data.subarray(at, at + 100_000));
    }
    await w.close();
  })();
  const got = new Uint8Array(await new Response(reader.readable).arrayBuffer());
  await writing;
  assert.equal(got.length, data.length);
  assert.ok(got.every((v, i) => v === data[i]));
  assert.equal(reader.closed, true);
  assert.equal(writer.closed, true);
});

test("capacity: read, set, and a RangeError above /proc/sys/fs/pipe-max-size", () => {
  const max = Number(readFileSync("/proc/sys/fs/pipe-max-size", "utf8"));
  using pipe = createPipe({ capacity: 1 << 20 });
  assert.equal(pipe.reader.capacity, 1 << 20);
  pipe.writer.capacity = 4096 * 4;
  assert.equal(pipe.reader.capacity, 4096 * 4);
  assert.throws(() => {
    pipe.writer.capacity = max + 1;
  }, (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /pipe-max-size/);
    assert.match(e.message, new RegExp(String(max)));
    return true;
  });
  assert.throws(() => createPipe({ capacity: max * 2 }), RangeError);
  assert.throws(() => createPipe({ capacity: 0 }), RangeError);
  assert.throws(() => createPipe({ capacity: 1.5 }), RangeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => createPipe({ capacity: "1" as any }), TypeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => createPipe({ packet: 1 as any }), TypeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => createPipe(null as any), TypeError);
  assert.throws(() => createPipe({ spin: -1 }), RangeError);
  assert.throws(() => createPipe({ spin: "50" as never }), TypeError);
  // EBUSY: shrinking below what the pipe holds.
  pipe.writer.capacity = 65536;
  pipe.writer.writeSync(new Uint8Array(20_000));
  assert.throws(() => {
    pipe.writer.capacity = 4096;
  }, assertIpcError("EBUSY", "fcntl"));
});

test("packet mode keeps write boundaries, in every write form", async () => {
  using pipe = createPipe({ packet: true });
  assert.equal(pipe.writer.packet, true);
  pipe.writer.writeSync("one");
  await pipe.writer.write("three");
  pipe.writer.tryWrite("fives");
  const buffer = new Uint8Array(4096);
  assert.equal(pipe.reader.readSync(buffer), 3);
  assert.equal(await pipe.reader.read(buffer), 5);
  assert.equal(pipe.reader.tryRead(buffer), 5);
  using plain = createPipe();
  assert.equal(plain.writer.packet, false);
  plain.writer.writeSync("one");
  plain.writer.writeSync("three");
  assert.equal(plain.reader.readSync(buffer), 8);
});

for (const runtime of RUNTIMES) {
  test(`writing to a pipe without readers is IpcError EPIPE, not SIGPIPE (${runtime} child)`, async () => {
    assert.equal(await runPeerOk(runtime, PEER, ["epipe"]), "EPIPE\nEPIPE");
  });
}

test("EPIPE names the syscall and explains; a write that waits rejects when the reader closes", async () => {
  const { reader, writer } = createPipe();
  writer.capacity = 4096;
  reader.close();
  assert.throws(() => writer.writeSync("x"), (e: unknown) => {
    assertIpcError("EPIPE", "write")(e);
    assert.match((e as Error).message, /reading end is closed/);
    return true;
  });
  writer.close();
  const p = createPipe();
  p.writer.capacity = 4096;
  const pending = p.writer.write(new Uint8Array(100_000));
  setTimeout(() => p.reader.close(), 20);
  await assert.rejects(pending, assertIpcError("EPIPE", "write"));
  p.writer.close();
});

test("closing an end while a read or write waits rejects it with EBADF; use after close is EBADF", async () => {
  const pipe = createPipe();
  const reading = pipe.reader.read(new Uint8Array(8));
  setTimeout(() => pipe.reader.close(), 20);
  await assert.rejects(reading, assertIpcError("EBADF"));
  await assert.rejects(
    pipe.reader.read(new Uint8Array(8)),
    assertIpcError("EBADF"),
  );
  assert.throws(
    () => pipe.reader.readSync(new Uint8Array(8)),
    assertIpcError("EBADF"),
  );
  assert.throws(() => pipe.reader.fd, assertIpcError("EBADF"));
  pipe.reader.close(); // twice: a no-op
  pipe.writer.close();
  const full = createPipe();
  full.writer.capacity = 4096;
  const writing = full.writer.write(new Uint8Array(50_000));
  setTimeout(() => full.writer.close(), 20);
  await assert.rejects(writing, assertIpcError("EBADF"));
  assert.throws(() => full.writer.tryWrite("x"), assertIpcError("EBADF"));
  full.reader.close();
});

test("timeouts and abort: read, readSync, write, writeSync", async () => {
  using pipe = createPipe();
  const buffer = new Uint8Array(8);
  await assert.rejects(
    pipe.reader.read(buffer, { timeout: 30 }),
    assertDomError("TimeoutError"),
  );
  assert.throws(
    () => pipe.reader.readSync(buffer, { timeout: 30 }),
    assertDomError("TimeoutError"),
  );
  const controller = new AbortController();
  const reading = pipe.reader.read(buffer, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(reading, assertDomError("AbortError"));
  await assert.rejects(
    pipe.reader.read(buffer, { signal: AbortSignal.abort() }),
    assertDomError("AbortError"),
  );
  pipe.writer.capacity = 4096;
  await assert.rejects(
    pipe.writer.write(new Uint8Array(10_000), { timeout: 30 }),
    assertDomError("TimeoutError"),
  );
  assert.throws(
    () => pipe.writer.writeSync(new Uint8Array(10_000), { timeout: 30 }),
    assertDomError("TimeoutError"),
  );
  // The pipe still works afterwards.
  while (pipe.reader.tryRead(new Uint8Array(65536)) !== undefined) {
    /* drain */
  }
  pipe.writer.writeSync("ok");
  assert.equal(await pipe.reader.read(buffer, { timeout: 1000 }), 2);
});

test("bad input: TypeError before any syscall", async () => {
  using pipe = createPipe();
  // deno-lint-ignore no-explicit-any
  const bad: any = 42;
  await assert.rejects(pipe.reader.read(bad), TypeError);
  assert.throws(() => pipe.reader.readSync(bad), TypeError);
  assert.throws(() => pipe.reader.tryRead("text" as never), TypeError);
  await assert.rejects(pipe.writer.write(bad), TypeError);
  assert.throws(() => pipe.writer.writeSync(null as never), TypeError);
  await assert.rejects(
    pipe.reader.read(new Uint8Array(1), { timeout: -1 }),
    RangeError,
  );
  await assert.rejects(
    pipe.reader.read(new Uint8Array(1), { signal: 1 as never }),
    TypeError,
  );
  assert.throws(() => PipeReader.fromDescriptor(-1), RangeError);
  assert.throws(
    () => PipeReader.fromDescriptor(pipe.writer.fd),
    assertIpcError("EINVAL"),
  );
  assert.throws(
    () => PipeWriter.fromDescriptor(pipe.reader.fd),
    assertIpcError("EINVAL"),
  );
  assert.throws(
    () => PipeWriter.fromDescriptor(1_000_000),
    assertIpcError("EBADF"),
  );
});

function pipeInode(pid: number | "self", fd: number): string {
  return readlinkSync(`/proc/${pid}/fd/${fd}`);
}

test("an end goes to a child as stdin, and as descriptor 3; no other child inherits it", async () => {
  const input = createPipe();
  const output = createPipe();
  const child = spawn("sh", ["-c", "cat >&3"], {
    stdio: [input.reader.fd, "ignore", "inherit", output.writer.fd],
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  // An unrelated child started now must hold neither end (O_CLOEXEC).
  const inodes = [
    pipeInode("self", input.reader.fd),
    pipeInode("self", output.writer.fd),
  ];
  const bystander = spawn("sh", ["-c", "ls -l /proc/$$/fd"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let listing = "";
  bystander.stdout!.on("data", (d) => listing += d);
  await new Promise((resolve) => bystander.on("close", resolve));
  for (const inode of inodes) assert.ok(!listing.includes(inode), listing);
  input.reader.close();
  output.writer.close();
  await input.writer.write("through the child\n");
  input.writer.close();
  const got = await new Response(output.reader.readable).text();
  assert.equal(await exited, 0);
  assert.equal(got, "through the child\n");
});

for (const runtime of RUNTIMES) {
  test(`a ${runtime} child adopts descriptor 3 with PipeWriter.fromDescriptor()`, async () => {
    const pipe = createPipe();
    const child = startPeer(runtime, PEER, [
      "adopt-write",
      "3",
      "hello from fd 3",
    ], {
      fds: [pipe.writer.fd],
    });
    pipe.writer.close();
    const got = await new Response(pipe.reader.readable).text();
    assert.equal(await succeeded(child), "wrote");
    assert.equal(got, "hello from fd 3");
  });
}

test(`1 GiB through a pipe from a ${OTHER} process, checksum equal`, async () => {
  const MIB = 1 << 20;
  const total = 1024;
  const pipe = createPipe({ capacity: MIB });
  const child = startPeer(OTHER, PEER, ["write-gib", "3", String(total)], {
    fds: [pipe.writer.fd],
  });
  pipe.writer.close();
  const chunk = new Uint8Array(MIB);
  let filled = 0;
  let sum = 0;
  let bytes = 0;
  for (;;) {
    // Sync and async reads in turn; whole 1 MiB chunks go to the checksum.
    const n = bytes % (64 * MIB) < 32 * MIB
      ? pipe.reader.readSync(chunk.subarray(filled))
      : await pipe.reader.read(chunk.subarray(filled));
    if (n === null) break;
    filled += n;
    bytes += n;
    if (filled === MIB) {
      sum = checksum(sum, chunk);
      filled = 0;
    }
  }
  pipe.reader.close();
  assert.equal(filled, 0);
  assert.equal(bytes, total * MIB);
  assert.equal(await succeeded(child, { timeout: 120_000 }), String(sum));
});

test("a peer killed mid-transfer: the reader sees EOF, a waiting writer gets EPIPE", async () => {
  // A writer child (yes) killed while it writes: EOF after what it wrote.
  const out = createPipe({ capacity: 4096 });
  const writerChild = spawn("yes", ["ipckit"], {
    stdio: ["ignore", out.writer.fd, "inherit"],
  });
  const writerGone = new Promise((resolve) => writerChild.on("exit", resolve));
  out.writer.close();
  const buffer = new Uint8Array(4096);
  assert.ok((await out.reader.read(buffer, { timeout: 5000 }))! > 0);
  writerChild.kill("SIGKILL");
  await writerGone;
  let total = 0;
  for (;;) {
    const n = await out.reader.read(buffer, { timeout: 5000 });
    if (n === null) break;
    total += n;
  }
  assert.ok(total <= 4096 * 2, `${total} bytes after the kill`);
  out.reader.close();

  // A reader child killed while our write waits for room: EPIPE.
  const into = createPipe({ capacity: 4096 });
  const readerChild = spawn("sleep", ["30"], {
    stdio: [into.reader.fd, "ignore", "inherit"],
  });
  const readerGone = new Promise((resolve) => readerChild.on("exit", resolve));
  into.reader.close();
  const pending = assert.rejects(
    into.writer.write(new Uint8Array(100_000)),
    assertIpcError("EPIPE", "write"),
  );
  await new Promise((r) => setTimeout(r, 50));
  readerChild.kill("SIGKILL");
  await readerGone;
  await pending;
  into.writer.close();
});
