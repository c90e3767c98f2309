// Checks at the door shared by MessageQueue and SysvMessageQueue: `deno run`
// and `bun run` do not type-check, so every option is validated here before
// any syscall (timeouts and spins by ffi/, the one place for those).
import {
  checkMode,
  checkOptions,
  checkSignal,
  checkTimeout,
  describeValue,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";

/** Which directions a handle may use. */
export type QueueAccess = "read" | "write" | "read-write";

/** Permission bits of a new object: an integer from 0 to 0o777. */
export function checkQueueMode(value: unknown): number {
  return value === undefined ? 0o600 : checkMode(value, 0o777);
}

/** The `access` option. */
export function checkAccess(value: unknown): QueueAccess {
  if (value === undefined) return "read-write";
  if (value !== "read" && value !== "write" && value !== "read-write") {
    throw new TypeError(
      `access must be "read", "write" or "read-write", got ${
        describeValue(value)
      }`,
    );
  }
  return value;
}

/** The options of a wait that may be cancelled: an object, timeout, signal. */
export function checkWaitOptions(
  options: WaitOptions | undefined,
): { timeout: number | undefined; signal: AbortSignal | undefined } {
  const o = checkOptions(options);
  return { timeout: checkTimeout(o.timeout), signal: checkSignal(o.signal) };
}

/** The timeout of a blocking wait's options (checked: an object, a timeout). */
export function checkWaitSyncOptions(
  options: WaitSyncOptions | undefined,
): number | undefined {
  return checkTimeout(checkOptions(options).timeout);
}
