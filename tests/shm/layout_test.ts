import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { FLOCK, SHMID_DS, STATVFS } from "../../shm/_layout.ts";
import { statLayout } from "../../ffi/_stat_layout.ts";
import { buildC } from "../helpers/peer.ts";

test("shm struct layouts (flock, stat, statvfs, shmid_ds) match C's offsetof", () => {
  const exe = buildC("shm_layout");
  try {
    const c = JSON.parse(execFileSync(exe, { encoding: "utf8" }));
    assert.deepEqual(FLOCK, c.FLOCK);
    const { size, mode, uid, bytes } = statLayout();
    assert.deepEqual({ size, mode, uid, bytes }, c.STAT);
    assert.deepEqual(STATVFS, c.STATVFS);
    assert.deepEqual(SHMID_DS, c.SHMID_DS);
    assert.deepEqual(c.consts, {
      F_OFD_GETLK: 36,
      F_OFD_SETLK: 37,
      F_OFD_SETLKW: 38,
      F_ADD_SEALS: 1033,
      F_GET_SEALS: 1034,
    });
  } finally {
    rmSync(exe, { force: true });
  }
});
