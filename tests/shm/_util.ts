// What the shm tests share.
import assert from "node:assert/strict";
import { IpcError, SharedMemory } from "../../shm/mod.ts";

/** Unlinks a POSIX object if it exists. */
export function removeShm(name: string): void {
  try {
    SharedMemory.unlink(name);
  } catch (error) {
    if (!(error instanceof IpcError && error.code === "ENOENT")) throw error;
  }
}

/** An assert.throws predicate for an IpcError with this code (and syscall). */
export function ipcError(code: string, syscall?: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof IpcError, `expected IpcError, got ${error}`);
    assert.equal(error.code, code, String(error));
    if (syscall) assert.equal(error.syscall, syscall);
    return true;
  };
}
