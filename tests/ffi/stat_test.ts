import { test } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { closeSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  IpcError,
  statDescriptor,
  statPath,
  sysvKeyFromPath,
} from "../../ffi/mod.ts";
import { RUN_PREFIX } from "../helpers/peer.ts";

test("statPath() and statDescriptor() agree with the runtime's own stat", () => {
  const path = join(tmpdir(), `${RUN_PREFIX}_stat_${process.pid}`);
  writeFileSync(path, "12345", { mode: 0o640 });
  const fd = openSync(path, "r");
  try {
    const native = statSync(path, { bigint: true });
    for (const s of [statPath(path), statDescriptor(fd)]) {
      assert.equal(s.dev, native.dev);
      assert.equal(s.ino, native.ino);
      assert.equal(s.size, 5);
      assert.equal(s.mode, 0o640);
      assert.equal(s.type, 0o100000);
      assert.equal(s.uid, Number(native.uid));
    }
    assert.equal(
      statPath("/dev/null").rdev,
      statSync("/dev/null", {
        bigint: true,
      }).rdev,
    );
    const key = sysvKeyFromPath(path, 7);
    assert.equal(
      key,
      Number(
        (7n << 24n) | ((native.dev & 0xffn) << 16n) | (native.ino & 0xffffn),
      ),
    );
  } finally {
    closeSync(fd);
    rmSync(path);
  }
  assert.throws(
    () => statPath("/nonexistent/ipckit"),
    (e) => e instanceof IpcError && e.code === "ENOENT",
  );
  assert.throws(
    () => statDescriptor(-1),
    (e) => e instanceof IpcError && e.code === "EBADF",
  );
});
