import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  errno,
  errnoCapture,
  hasLibcFunction,
  IpcError,
  libc,
  sys,
} from "../../ffi/mod.ts";
import { RUN_PREFIX, runPeerOk, RUNTIMES } from "../helpers/peer.ts";

for (const runtime of RUNTIMES) {
  for (const mode of ["trampoline", "direct"]) {
    test(`errno is exact under GC, allocation and signals (${runtime}, ${mode})`, async () => {
      const queue = `/${RUN_PREFIX}_errno_${
        Math.random().toString(36).slice(2)
      }`;
      const out = await runPeerOk(runtime, "tests/helpers/errno_peer.ts", [
        mode,
        "40000",
        queue,
      ], { timeout: 60_000 });
      const report = JSON.parse(out.split("\n").at(-1)!);
      assert.equal(report.capture, mode);
      assert.deepEqual(report.wrong, {});
      assert.ok(report.signals > 0, "the peer was signalled");
      assert.ok(report.polls > 0);
    });
  }
}

test("libc calls go through the errno-safe trampoline here", () => {
  assert.equal(errnoCapture(), "trampoline");
  assert.equal(libc().close(-1), -1);
  assert.equal(errno(), 9);
  assert.throws(
    () => sys(() => libc().close(-1), { syscall: "close" }),
    (e) => e instanceof IpcError && e.code === "EBADF",
  );
});

test("a function bound lazily: hasLibcFunction() finds what this libc has", () => {
  assert.equal(hasLibcFunction("sem_clockwait"), true);
  assert.equal(hasLibcFunction("mq_open"), true);
});

test("the embedded trampoline matches ffi/_trampoline.c (x86_64 always, aarch64 with its cross compiler)", () => {
  const out = join(tmpdir(), `${RUN_PREFIX}_trampoline_${process.pid}.ts`);
  const hasCross = spawnSync("sh", ["-c", "command -v aarch64-linux-gnu-gcc"])
    .status === 0;
  const result = spawnSync("sh", [
    "-c",
    hasCross
      ? `scripts/trampoline/build.sh ${out}`
      : `scripts/trampoline/build.sh ${out} x86_64`,
  ], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  const built = readFileSync(out, "utf8");
  spawnSync("rm", ["-f", out]);
  const shipped = readFileSync("ffi/_trampoline_so.ts", "utf8");
  const line = (text: string, arch: string) =>
    text.split("\n").find((_, i, all) =>
      all[i - 1]?.includes(`export const ${arch}_SO`)
    );
  assert.equal(line(built, "x86_64"), line(shipped, "x86_64"));
  if (hasCross) assert.equal(line(built, "aarch64"), line(shipped, "aarch64"));
});
