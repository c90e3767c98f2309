// shm/ under hostile use, in child processes: the cases that would hang,
// crash (SIGSEGV) or fill the machine's memory if a fix regressed.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  CURRENT,
  finished,
  killPeers,
  nextLine,
  type PeerOptions,
  rootTest,
  RUNTIMES,
  startPeer,
  succeeded,
  testDir,
  testName,
} from "../helpers/peer.ts";

afterEach(killPeers);

const PEER = "tests/shm/hostile_peer.ts";
const GIB = 2 ** 30;

/** The lines a peer printed, each parsed as JSON (a "ready" line skipped). */
function results(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter((l) => l !== "ready").map((l) =>
    JSON.parse(l)
  );
}

/**
 * Runs a peer that prints "ready" before the risky call, and kills it
 * `watchdog` ms after that line. Tmpfs allocations in it are capped by
 * RLIMIT_FSIZE (1 GiB): a regression that reserves a huge size dies of
 * SIGXFSZ (Deno) or gets EFBIG (Bun) instead of filling the machine.
 */
async function risky(
  runtime: "deno" | "bun",
  args: string[],
  watchdog = 5_000,
  options: PeerOptions = {},
): Promise<Record<string, unknown>[]> {
  const child = startPeer(runtime, PEER, args, {
    wrap: ["prlimit", `--fsize=${GIB}`, "--"],
    ...options,
  });
  child.stdin!.end();
  assert.equal(await nextLine(child), "ready");
  const result = await finished(child, watchdog);
  assert.equal(
    result.signal,
    null,
    `the peer was killed (${result.signal}): hung or hit the 1 GiB cap\n${result.stderr}`,
  );
  assert.equal(result.code, 0, result.stderr);
  return results(result.stdout);
}

/** RAM + swap, and what is available now, from /proc/meminfo. */
function memory(): { total: number; available: number } {
  const info = new Map<string, number>();
  for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) info.set(m[1], Number(m[2]) * 1024);
  }
  return {
    total: info.get("MemTotal")! + (info.get("SwapTotal") ?? 0),
    available: info.get("MemAvailable")! + (info.get("SwapFree") ?? 0),
  };
}

for (const runtime of RUNTIMES) {
  test(`FileLock.lockSync() and lock() refuse NaN, {}, negative and string timeouts instead of waiting forever (${runtime})`, async () => {
    const dir = testDir("lock-timeouts");
    try {
      const child = startPeer(runtime, PEER, [
        "lock-timeouts",
        join(dir, "records"),
        "sync=NaN",
        "async=NaN",
        "sync={}",
        "async={}",
        "sync=-1",
        'async="100"',
        "sync=null",
        "async=30",
        "sync=30",
      ]);
      child.stdin!.end();
      const lines = results(await succeeded(child, { timeout: 10_000 }));
      assert.deepEqual(
        lines.map((l) => [l.spec, l.error]),
        [
          ["sync=NaN", "RangeError"],
          ["async=NaN", "RangeError"],
          ["sync={}", "TypeError"],
          ["async={}", "TypeError"],
          ["sync=-1", "RangeError"],
          ['async="100"', "TypeError"],
          ["sync=null", "TypeError"],
          ["async=30", "TimeoutError"],
          ["sync=30", "TimeoutError"],
        ],
      );
      assert.match(String(lines[0].message), /timeout/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`createMemfd(), SharedMemory, SysvSharedMemory and mapFile() refuse 2^40 bytes with a RangeError before allocating (${runtime})`, async () => {
    const name = testName();
    const file = `/dev/shm${testName()}.bin`;
    try {
      const cases = [
        ["memfd"],
        ["shm", name],
        ["resize"],
        ["sysv"],
        ["mapfile", file],
      ];
      for (const [kind, where] of cases) {
        const [line] = await risky(runtime, [
          "size",
          kind,
          String(2 ** 40),
          ...(where ? [where] : []),
        ]);
        assert.equal(line.error, "RangeError", `${kind}: ${line.message}`);
        assert.match(String(line.message), /more than this machine's memory/);
      }
    } finally {
      rmSync(file, { force: true });
    }
  });

  test(`createMemfd(), SharedMemory and mapFile() on a tmpfs refuse more than the memory available now (ENOMEM) before reserving it (${runtime})`, async (t) => {
    const { total, available } = memory();
    const size = total - 4096;
    if (size <= available) {
      t.skip("nearly all memory is available: no size between the two");
      return;
    }
    const name = testName();
    const file = `/dev/shm${testName()}.bin`;
    try {
      for (
        const [kind, where] of [["memfd"], ["shm", name], ["resize"], [
          "mapfile",
          file,
        ]]
      ) {
        const [line] = await risky(runtime, [
          "size",
          kind,
          String(size),
          ...(where ? [where] : []),
        ]);
        assert.equal(line.error, "IpcError", `${kind}: ${line.message}`);
        // /dev/shm may be smaller than the memory: ENOSPC refuses too.
        assert.ok(
          line.code === "ENOMEM" ||
            (kind !== "memfd" && line.code === "ENOSPC"),
          `${kind}: ${line.message}`,
        );
      }
    } finally {
      rmSync(file, { force: true });
    }
  });

  test(`mapFile() refuses a FIFO, a directory and a character device with ENODEV, and never blocks on the FIFO (${runtime})`, async () => {
    const dir = testDir("map-fifo");
    try {
      const fifo = join(dir, "pipe");
      execFileSync("mkfifo", [fifo]);
      const lines = await risky(runtime, ["map", fifo, dir, "/dev/null"]);
      assert.deepEqual(lines.map((l) => [l.error, l.code]), [
        ["IpcError", "ENODEV"],
        ["IpcError", "ENODEV"],
        ["IpcError", "ENODEV"],
      ]);
      assert.match(String(lines[0].message), /FIFO/);
      assert.match(String(lines[1].message), /directory/);
      assert.match(String(lines[2].message), /character device/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const kind of ["shm", "file", "memfd", "sysv"]) {
    test(`a ${kind} buffer moved away by transfer() or structuredClone() survives close(), reading private memory instead of crashing (${runtime})`, async () => {
      for (const how of ["transfer", "clone", "none"]) {
        const child = startPeer(runtime, PEER, ["moved", kind, how, "close"]);
        child.stdin!.end();
        const [line] = results(await succeeded(child));
        assert.equal(line.before, 7, how);
        assert.equal(line.viewLength, 0, "a view over the handle's buffer");
        if (how === "none") {
          assert.equal(line.movedLength, 0, "the handle's buffer is detached");
        } else {
          assert.equal(line.movedLength, 4096, how);
          assert.equal(line.movedReads, 5, how);
          assert.equal(line.movedFirst, 0, `${how}: private zeroed memory`);
        }
      }
    });
  }

  test(`SharedMemory.resize() and remap() after the buffer was transferred leave no crash and a fresh buffer (${runtime})`, async () => {
    for (const then of ["resize", "remap"]) {
      for (const how of ["transfer", "none"]) {
        const child = startPeer(runtime, PEER, ["moved", "shm", how, then]);
        child.stdin!.end();
        const [line] = results(await succeeded(child));
        assert.equal(line.fresh, 7, `${then} ${how}: the contents stay`);
        assert.equal(line.viewLength, 0, `${then} ${how}`);
        assert.equal(line.movedLength, how === "none" ? 0 : 4096);
      }
    }
  });
}

rootTest(
  `SharedMemory reports ENOSPC up front when /dev/shm is smaller than asked (${CURRENT}, private 1 MiB /dev/shm)`,
  "mounts a private tmpfs over /dev/shm with unshare --mount",
  async () => {
    const child = startPeer(CURRENT, PEER, ["enospc"], {
      wrap: [
        "unshare",
        "--mount",
        "sh",
        "-c",
        'mount -t tmpfs -o size=1m tmpfs /dev/shm && exec "$@"',
        "sh",
      ],
    });
    child.stdin!.end();
    const [line] = results(await succeeded(child));
    const create = line.create as Record<string, unknown>;
    const resize = line.resize as Record<string, unknown>;
    assert.equal(create.code, "ENOSPC", String(create.message));
    assert.match(String(create.message), /\/dev\/shm/);
    assert.equal(line.leftBehind, false, "the object this call made is gone");
    assert.equal(resize.code, "ENOSPC", String(resize.message));
    assert.equal(line.size, 4096, "a failed resize keeps the old mapping");
  },
);
