// Bun's helper threads (the reactor and the futex table) run from a string
// embedded in ffi/_bun_worker_source.ts, so they work where no ipckit file
// sits beside the program: a `bun build` bundle, a compiled executable, the
// npm package. These tests hold that string to today's sources and run it.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killPeers, ROOT, runPeerOk, testDir } from "../helpers/peer.ts";

afterEach(killPeers);

const BUN = join(ROOT, "node_modules/bun/bin/bun.exe");

test("ffi/_bun_worker_source.ts is the bundle of today's ffi/ sources (else: node scripts/build.mjs --worker)", async () => {
  // build.mjs runs under Bun as well as Node.
  await runPeerOk("exec", BUN, [
    join(ROOT, "scripts/build.mjs"),
    "--check-worker",
  ], { timeout: 60_000 });
});

/** A copy of ffi/ without the helper thread's module, as in a bundle. */
function ffiWithoutWorkerModule(dir: string): string {
  cpSync(join(ROOT, "ffi"), join(dir, "ffi"), { recursive: true });
  rmSync(join(dir, "ffi/_bun_worker.ts"));
  rmSync(join(dir, "ffi/_reactor_worker.ts"));
  rmSync(join(dir, "ffi/_futex_worker.ts"));
  return join(dir, "ffi/mod.ts");
}

test("Bun: with no helper module beside ffi/, descriptor and futex waits run on the embedded thread", async () => {
  const dir = testDir("embedded");
  try {
    const out = await runPeerOk(
      "bun",
      "tests/packaging/helper_thread_peer.ts",
      [
        ffiWithoutWorkerModule(dir),
        "wake",
      ],
      { timeout: 30_000 },
    );
    assert.deepEqual(JSON.parse(out).results, ["resolved", "resolved"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Bun: IPCKIT_BUN_WORKER=embedded runs the embedded thread from the sources too", async () => {
  const dir = testDir("embedded-env");
  try {
    // The module beside ffi/ is broken, so only the string can serve.
    cpSync(join(ROOT, "ffi"), join(dir, "ffi"), { recursive: true });
    writeFileSync(join(dir, "ffi/_bun_worker.ts"), 'throw new Error("no");\n');
    const out = await runPeerOk(
      "bun",
      "tests/packaging/helper_thread_peer.ts",
      [
        join(dir, "ffi/mod.ts"),
        "wake",
      ],
      { timeout: 30_000, env: { IPCKIT_BUN_WORKER: "embedded" } },
    );
    assert.deepEqual(JSON.parse(out).results, ["resolved", "resolved"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The two waits of helper_thread_peer.ts "fail" (a reactor wait and a futex
 * wait), in a copy of ffi/ whose embedded helper-thread string is `source`.
 */
async function waitsWithWorkerSource(
  name: string,
  source: string,
): Promise<{ results: string[]; ms: number }> {
  const dir = testDir(name);
  try {
    const ffi = ffiWithoutWorkerModule(dir);
    writeFileSync(
      join(dir, "ffi/_bun_worker_source.ts"),
      `export const BUN_WORKER_SOURCE: string = ${JSON.stringify(source)};\n`,
    );
    const out = await runPeerOk(
      "bun",
      "tests/packaging/helper_thread_peer.ts",
      [ffi, "fail"],
      { timeout: 30_000 },
    );
    return JSON.parse(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("Bun: a helper thread that cannot start fails waits at once with a clear error, no hang", async () => {
  const report = await waitsWithWorkerSource(
    "broken-thread",
    'throw new Error("broken on purpose")',
  );
  assert.equal(report.results.length, 2);
  assert.match(
    report.results[0]!,
    /^rejected: ipckit's reactor helper thread failed: .*broken on purpose/,
  );
  assert.match(
    report.results[1]!,
    /^rejected: ipckit's futex helper thread failed: .*broken on purpose/,
  );
  // Far below the waits' 20 s timeout: they failed, they did not time out.
  assert.ok(report.ms < 10_000, `took ${report.ms} ms`);
});

test("Bun: an empty embedded string (never built) fails waits with the command that builds it", async () => {
  const { results } = await waitsWithWorkerSource("empty-thread", "");
  assert.equal(results.length, 2);
  for (const result of results) {
    assert.match(result, /node scripts\/build\.mjs --worker/);
  }
});
