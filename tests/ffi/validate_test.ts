import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkMode,
  checkSignal,
  toWritableBytes,
  validatePosixName,
} from "../../ffi/mod.ts";
import { SharedMemory } from "../../shm/mod.ts";

test("toWritableBytes() names what it wants: a buffer to write into", () => {
  for (const bad of [42, "text", null, {}]) {
    assert.throws(
      () => toWritableBytes(bad, "target"),
      (e) =>
        e instanceof TypeError &&
        /^target must be an ArrayBuffer or an ArrayBufferView to write into/
          .test(e.message),
    );
  }
  assert.equal(toWritableBytes(new Uint16Array(3), "target").length, 6);
});

test('validatePosixName() refuses "/." and "/.." (they named sem.. and sem...)', () => {
  for (const name of ["/.", "/.."]) {
    assert.throws(() => validatePosixName(name, "semaphore"), TypeError);
  }
  validatePosixName("/...", "semaphore"); // an ordinary name
});

test("checkSignal() and checkMode() refuse what they cannot use", () => {
  assert.throws(() => checkSignal({}), TypeError);
  assert.throws(() => checkMode("0o600"), TypeError);
  assert.throws(() => checkMode(0o10000), RangeError);
});

test('SharedMemory.open() refuses to create with access "read" before any syscall', () => {
  assert.throws(
    () =>
      SharedMemory.open("/ipckit_test_never_made", {
        create: true,
        size: 4096,
        access: "read",
      }),
    (e) => e instanceof TypeError && /needs "read-write"/.test(e.message),
  );
});

test("FileLock.fromDescriptor() refuses a descriptor that is not open, at once", async () => {
  const { FileLock } = await import("../../shm/mod.ts");
  const { IpcError } = await import("../../ffi/mod.ts");
  assert.throws(
    () => FileLock.fromDescriptor(987654),
    (e) => e instanceof IpcError && e.code === "EBADF",
  );
});
