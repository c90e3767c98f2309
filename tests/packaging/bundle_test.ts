// A user's program bundled or compiled with ipckit inside, run where no
// ipckit source sits beside it: its async waits must work (Bun's helper
// threads run from the embedded string, see ffi/_bun.ts), never hang.
// `bun build` and `bun build --compile` as issue 10 reported them, and
// `deno bundle`: Deno's path has no worker and no file of its own to load,
// so the bundle runs with --allow-ffi alone. `deno compile` needs its
// runtime (denort) from the network, which this machine cannot reach; it
// embeds the same module graph `deno bundle` resolves.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  killPeers,
  ROOT,
  RUN_PREFIX,
  runPeer,
  runPeerOk,
  testDir,
} from "../helpers/peer.ts";

afterEach(killPeers);

const BUN = join(ROOT, "node_modules/bun/bin/bun.exe");
const DENO = join(ROOT, "node_modules/deno/deno");
const PROGRAM = join(ROOT, "tests/packaging/async_program.ts");
const EXPECTED = { message: "hello from a bundle", semaphore: "acquired" };

/** Runs `cmd` in `dir` and returns its stdout; fails on a non-zero exit. */
async function inDir(
  dir: string,
  cmd: string,
  args: string[],
): Promise<string> {
  // runPeer runs commands from the repository root: cd first, through sh.
  const line = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(" ");
  const r = await runPeer("exec", "sh", ["-c", `cd '${dir}' && exec ${line}`], {
    timeout: 120_000,
  });
  assert.equal(
    r.code,
    0,
    `${line} exited ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`,
  );
  return r.stdout.trim();
}

test("bun build --target=bun: a bundled program's async mq receive and semaphore wait work", async () => {
  const dir = testDir("bun-build");
  try {
    await runPeerOk("exec", BUN, [
      "build",
      PROGRAM,
      "--target=bun",
      "--outfile",
      join(dir, "program.js"),
    ], { timeout: 120_000 });
    // Only the bundle: nothing of ipckit beside it.
    assert.deepEqual(readdirSync(dir), ["program.js"]);
    const out = await inDir(dir, BUN, ["program.js", RUN_PREFIX]);
    assert.deepEqual(JSON.parse(out), EXPECTED);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bun build --compile: the executable's async mq receive and semaphore wait work", async () => {
  const dir = testDir("bun-compile");
  try {
    const exe = join(dir, "program");
    await runPeerOk("exec", BUN, [
      "build",
      PROGRAM,
      "--compile",
      "--outfile",
      exe,
    ], { timeout: 120_000 });
    assert.ok(existsSync(exe));
    const out = await inDir(dir, exe, [RUN_PREFIX]);
    assert.deepEqual(JSON.parse(out), EXPECTED);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("deno bundle: the bundle runs under Deno with --allow-ffi alone, and under Bun", async () => {
  const dir = testDir("deno-bundle");
  try {
    await runPeerOk("exec", DENO, [
      "bundle",
      "--quiet",
      "-o",
      join(dir, "program.js"),
      PROGRAM,
    ], { timeout: 120_000 });
    assert.deepEqual(readdirSync(dir), ["program.js"]);
    const deno = await inDir(dir, DENO, [
      "run",
      "--allow-ffi",
      "--no-prompt",
      "program.js",
      RUN_PREFIX,
    ]);
    assert.deepEqual(JSON.parse(deno), EXPECTED);
    const bun = await inDir(dir, BUN, ["program.js", RUN_PREFIX]);
    assert.deepEqual(JSON.parse(bun), EXPECTED);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
