// What every System V IPC object (message queue, semaphore set, shared
// memory segment) shares: keys, ids and the ftok(3) recipe.
import { statPath } from "./stat.ts";
import { describeValue } from "./validate.ts";

/** The key that makes an object without a key (`IPC_PRIVATE`). */
export const IPC_PRIVATE = 0;

/**
 * Checks a System V key: a 32-bit integer (signed or unsigned), not
 * `IPC_PRIVATE`.
 *
 * @example
 * ```ts
 * import { checkSysvKey } from "@ipckit/ipc/ffi";
 *
 * console.log(checkSysvKey(0xfeedbeef, "SysvMessageQueue.private()")); // -17973521
 * ```
 *
 * @param key The key.
 * @param privateWay What to use instead for an object without a key, for
 *   the message (such as `"SysvMessageQueue.private()"`).
 * @returns The key as a signed 32-bit integer (`key_t`).
 * @throws {RangeError} For anything else.
 */
export function checkSysvKey(key: number, privateWay: string): number {
  if (
    typeof key !== "number"
  ) {
    throw new TypeError(
      `A System V key must be a number, got ${describeValue(key)}`,
    );
  }
  if (
    !Number.isInteger(key) || key < -(2 ** 31) || key > 2 ** 32 - 1
  ) {
    throw new RangeError(
      `A System V key must be a 32-bit integer, got ${String(key)}`,
    );
  }
  if (key === IPC_PRIVATE) {
    throw new RangeError(
      `Key 0 is IPC_PRIVATE: use ${privateWay} for an object without a key`,
    );
  }
  return key | 0;
}

/**
 * Checks a System V object id: a non-negative 32-bit integer.
 *
 * @example
 * ```ts
 * import { checkSysvId } from "@ipckit/ipc/ffi";
 *
 * checkSysvId(32768, "queue"); // fine
 * ```
 *
 * @param id The id.
 * @param what The kind of object, for the message.
 * @throws {RangeError} For anything else.
 */
export function checkSysvId(id: number, what: string): void {
  if (typeof id !== "number") {
    throw new TypeError(
      `A System V ${what} id must be a number, got ${describeValue(id)}`,
    );
  }
  if (!Number.isInteger(id) || id < 0 || id > 2 ** 31 - 1) {
    throw new RangeError(
      `A System V ${what} id must be a non-negative 32-bit integer, got ${id}`,
    );
  }
}

/**
 * How a System V object is named in messages: its key in hex, or
 * `private id N`.
 *
 * @example
 * ```ts
 * import { sysvLabel } from "@ipckit/ipc/ffi";
 *
 * console.log(sysvLabel(0x1234, 7)); // 0x00001234
 * console.log(sysvLabel(0, 7)); // private id 7
 * ```
 *
 * @param key The key (0 for a private object).
 * @param id The object's id.
 * @returns The label.
 */
export function sysvLabel(key: number, id?: number): string {
  return key === IPC_PRIVATE
    ? `private id ${id}`
    : `0x${(key >>> 0).toString(16).padStart(8, "0")}`;
}

/**
 * A key from an existing file and a project number, computed as ftok(3)
 * does (glibc): the project's low 8 bits, the device's low 8 bits and the
 * inode's low 16 bits. Processes that agree on a path and project get the
 * same key; different files may collide. The file is looked at through libc
 * (`O_PATH`, fstat(2)), so Deno needs only `--allow-ffi`.
 *
 * @example
 * ```ts
 * import { sysvKeyFromPath } from "@ipckit/ipc/ffi";
 *
 * console.log(sysvKeyFromPath("/tmp", 1) > 0); // true
 * ```
 *
 * @param path An existing file or directory.
 * @param projectId 1 to 255.
 * @returns The key, as an unsigned 32-bit number.
 * @throws {RangeError} For a project number outside 1..255.
 * @throws {Error} When the file cannot be stat'ed (`ENOENT`, ...).
 */
export function sysvKeyFromPath(path: string, projectId: number): number {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(
      `path must be a non-empty string, got ${describeValue(path)}`,
    );
  }
  if (typeof projectId !== "number") {
    throw new TypeError(
      `projectId must be an integer, got ${describeValue(projectId)}`,
    );
  }
  if (!Number.isInteger(projectId) || projectId < 1 || projectId > 255) {
    throw new RangeError(
      `projectId must be an integer from 1 to 255, got ${projectId}`,
    );
  }
  const { dev, ino } = statPath(path, {
    syscall: "open",
    path,
    action: "make a System V key from",
  });
  return Number(
    (BigInt(projectId) << 24n) | ((dev & 0xffn) << 16n) | (ino & 0xffffn),
  );
}
