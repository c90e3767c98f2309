import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { statLayout } from "../../ffi/_stat_layout.ts";
import { peerEnv, ROOT, testDir } from "../helpers/peer.ts";

test("struct stat ids (st_dev, st_ino, st_rdev) match C's offsetof", () => {
  const dir = testDir("stat-ids");
  try {
    const exe = join(dir, "stat_ids");
    execFileSync("gcc", [
      "-O2",
      "-Wall",
      "-o",
      exe,
      `${ROOT}tests/shm/stat_ids.c`,
    ], {
      stdio: "pipe",
      env: peerEnv(),
    });
    const c = JSON.parse(execFileSync(exe, { encoding: "utf8" }));
    const { dev, ino, rdev } = statLayout();
    assert.deepEqual({ dev, ino, rdev }, c);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
