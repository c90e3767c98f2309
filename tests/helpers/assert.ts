// What the test files share: predicates for assert.throws()/rejects(),
// quiet removal of named objects in `finally`, elapsed-time checks, and how
// pending calls settled.
import assert from "node:assert/strict";
import { IpcError } from "../../ffi/mod.ts";

/**
 * An assert.throws()/rejects() predicate: an IpcError with this code (and,
 * when given, this syscall and path).
 */
export function assertIpcError(
  code: string,
  syscall?: string,
  path?: string,
): (error: unknown) => boolean {
  return (error: unknown): boolean => {
    assert.ok(error instanceof IpcError, `expected IpcError, got ${error}`);
    assert.equal(error.code, code, String(error));
    if (syscall) assert.equal(error.syscall, syscall);
    if (path !== undefined) assert.equal(error.path, path);
    return true;
  };
}

/**
 * An assert.throws()/rejects() predicate: a DOMException with this name
 * (`"TimeoutError"`, `"AbortError"`).
 */
export function assertDomError(name: string): (error: unknown) => boolean {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DOMException, `expected DOMException: ${error}`);
    assert.equal(error.name, name);
    return true;
  };
}

/** Whether `error` is the TimeoutError a `timeout` option rejects with. */
export function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/**
 * Runs `remove` (an unlink), ignoring `ENOENT`: for `finally` blocks, where
 * the test may have removed the object already or never created it.
 */
export function removeQuietly(remove: () => void): void {
  try {
    remove();
  } catch (error) {
    if (!(error instanceof IpcError && error.code === "ENOENT")) throw error;
  }
}

/**
 * Asserts that at least `min` and less than `max` milliseconds have passed
 * since `start` (a `performance.now()`); returns the milliseconds.
 */
export function assertElapsed(
  start: number,
  min: number,
  max = Infinity,
): number {
  const elapsed = performance.now() - start;
  assert.ok(
    elapsed >= min && elapsed < max,
    `took ${elapsed} ms, expected ${min} to ${max}`,
  );
  return elapsed;
}

/**
 * Watches `pending` (promises by label) from now on and resolves, once all
 * have settled, with how each did, in order: "<label> resolved", or
 * "<label> <error>" (an IpcError by its code).
 */
export function outcomesOf(
  pending: Readonly<Record<string, Promise<unknown>>>,
): Promise<string[]> {
  return Promise.all(
    Object.entries(pending).map(([label, p]) =>
      p.then(
        () => `${label} resolved`,
        (e) => `${label} ${e instanceof IpcError ? e.code : e}`,
      )
    ),
  );
}
