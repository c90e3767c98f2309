// MappedFile.temporary(): a scratch file with a random name in a folder
// (TMPDIR by default), mapped read-write and shared, that other processes
// map by its path, removed on close and on every exit JavaScript sees
// (peers in both runtimes; Deno's with --allow-ffi alone).
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { FileLock, mapFile, MappedFile } from "../../shm/mod.ts";
import { pendingExitRemovals } from "../../ffi/mod.ts";
import { assertIpcError } from "../helpers/assert.ts";
import {
  finished,
  killPeers,
  nextLine,
  RUN_PREFIX,
  RUNTIMES,
  signalPeer,
  startPeer,
  testDir,
} from "../helpers/peer.ts";

afterEach(killPeers);

const PEER = "tests/shm/temporary_file_peer.ts";

async function withDir(run: (dir: string) => Promise<void> | void) {
  const dir = testDir("tmpfile");
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("MappedFile.temporary() creates a new file of its size in dir, shared by path, removed on close", async () => {
  await withDir((dir) => {
    const before = pendingExitRemovals();
    const file = MappedFile.temporary({ size: 8192, dir, prefix: "scratch-" });
    const other = MappedFile.temporary({ size: 4096, dir: `${dir}/` });
    try {
      assert.equal(pendingExitRemovals(), before + 2);
      assert.match(file.path, /^.*\/scratch-[0-9a-f]{32}$/);
      assert.equal(file.path, join(dir, file.path.slice(dir.length + 1)));
      assert.match(other.path, /\/ipckit_[0-9a-f]{32}$/);
      assert.equal(other.path.startsWith(`${dir}/ipckit_`), true);
      assert.deepEqual(
        readdirSync(dir).sort(),
        [
          file.path.slice(dir.length + 1),
          other.path.slice(dir.length + 1),
        ].sort(),
      );
      const status = statSync(file.path);
      assert.equal(status.size, 8192);
      assert.equal(status.mode & 0o777, 0o600);
      assert.equal(file.size, 8192);
      assert.equal(file.writable, true);
      assert.equal(file.shared, true);
      // Mapped by path, as another process would: the same bytes.
      file.write("scratch", 100);
      using again = mapFile(file.path, { access: "read-write" });
      assert.equal(new TextDecoder().decode(again.read(100, 7)), "scratch");
      again.write("S", 100);
      assert.equal(new TextDecoder().decode(file.read(100, 7)), "Scratch");
      file.flush();
      assert.equal(
        readFileSync(file.path, "latin1").slice(100, 107),
        "Scratch",
      );
      // Locks on it, too.
      using lock = FileLock.open(file.path);
      using _guard = lock.lockSync({ start: 0, length: 64 });
      file.close();
      assert.deepEqual(readdirSync(dir), [other.path.slice(dir.length + 1)]);
      assert.equal(pendingExitRemovals(), before + 1);
      file.close(); // no-op
      assert.throws(() => file.buffer, assertIpcError("EBADF"));
      // A mapping made before the removal keeps the memory.
      assert.equal(new TextDecoder().decode(again.read(100, 7)), "Scratch");
    } finally {
      file.close();
      other.close();
    }
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(pendingExitRemovals(), before);
  });
});

test("MappedFile.temporary() takes the mode, and refuses bad options before creating anything", async () => {
  await withDir((dir) => {
    {
      using file = MappedFile.temporary({ size: 16, dir, mode: 0o400 });
      assert.equal(statSync(file.path).mode & 0o777, 0o400);
      assert.equal(file.writable, true, "opened before the mode applies");
    }
    const loose = (o: unknown) =>
      o as Parameters<typeof MappedFile.temporary>[0];
    for (
      const [options, error] of [
        [undefined, TypeError],
        ["big", TypeError],
        [{ dir }, TypeError], // no size
        [{ size: "1", dir }, TypeError],
        [{ size: 0, dir }, RangeError],
        [{ size: 2.5, dir }, RangeError],
        [{ size: 8, dir, mode: 0o10000 }, RangeError],
        [{ size: 8, dir: 5 }, TypeError],
        [{ size: 8, dir: "" }, TypeError],
        [{ size: 8, dir: "/tmp\0x" }, TypeError],
        [{ size: 8, dir, prefix: 5 }, TypeError],
        [{ size: 8, dir, prefix: "a/b" }, TypeError],
        [{ size: 8, dir, prefix: "a\0b" }, TypeError],
      ] as const
    ) {
      assert.throws(
        () => MappedFile.temporary(loose(options)),
        error,
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => MappedFile.temporary({ size: 8, dir: join(dir, "missing") }),
      assertIpcError("ENOENT", "open"),
    );
    // Fails after creating the file (no room for 2^52 bytes): removed.
    const before = pendingExitRemovals();
    assert.throws(() => MappedFile.temporary({ size: 2 ** 52, dir }));
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(pendingExitRemovals(), before);
  });
});

for (const runtime of RUNTIMES) {
  test(`a ${runtime} program's temporary file (in TMPDIR) goes when it ends, throws, or gets SIGTERM`, async () => {
    await withDir(async (dir) => {
      for (const mode of ["normal", "throw", "wait"]) {
        const prefix = `${RUN_PREFIX}_${mode}_`;
        const child = startPeer(runtime, PEER, [mode, prefix], {
          env: { TMPDIR: dir },
          permissions: ["--allow-ffi"],
        });
        child.stdin?.end();
        const path = await nextLine(child);
        assert.equal(path.startsWith(`${dir}/${prefix}`), true, path);
        // It exists, with what the peer wrote, while the peer runs.
        if (mode === "wait") {
          assert.equal(
            readFileSync(path, "latin1").slice(0, prefix.length),
            prefix,
          );
          signalPeer(child, "SIGTERM");
        }
        const result = await finished(child, 20_000);
        const how = `${mode}: ${JSON.stringify(result)}`;
        if (mode === "normal") assert.equal(result.code, 0, how);
        if (mode === "throw") {
          assert.equal(result.code, 1, how);
          assert.match(result.stderr, /peer failed on purpose/, how);
        }
        if (mode === "wait") assert.equal(result.signal, "SIGTERM", how);
        assert.deepEqual(readdirSync(dir), [], how);
      }
    });
  });
}
