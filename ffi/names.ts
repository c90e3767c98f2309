// C strings and POSIX object names, checked before any syscall.

const encoder = new TextEncoder();

/**
 * A string as a NUL-terminated UTF-8 C string.
 *
 * @example
 * ```ts
 * import { cString } from "@ipckit/ipc/ffi";
 *
 * console.log(cString("/jobs").length); // 6
 * ```
 *
 * @param text The string; it must not contain NUL.
 * @returns The bytes, with a trailing 0.
 * @throws {TypeError} When the string contains a NUL character.
 */
export function cString(text: string): Uint8Array {
  if (text.includes("\0")) {
    throw new TypeError(`Invalid name "${text}": it contains a NUL character`);
  }
  const bytes = new Uint8Array(text.length * 3 + 1);
  const { written } = encoder.encodeInto(text, bytes);
  return bytes.subarray(0, written + 1);
}

/**
 * Checks a POSIX IPC object name (message queue, shared memory, semaphore):
 * one leading `/`, no other `/`, 1 to 255 bytes after it (`NAME_MAX`), no
 * NUL.
 *
 * @example
 * ```ts
 * import { validatePosixName } from "@ipckit/ipc/ffi";
 *
 * validatePosixName("/jobs", "message queue"); // fine
 * try { validatePosixName("jobs", "message queue"); } catch (e) { console.log((e as Error).message); }
 * ```
 *
 * @param name The name to check.
 * @param what The kind of object, for the message.
 * @param maxBytes The most bytes allowed after the leading `/`.
 * @returns The name as a C string, ready for the syscall.
 * @throws {TypeError} When the name is not a string, lacks the leading `/`,
 *   has another `/` or a NUL, or is `/.` or `/..`.
 * @throws {RangeError} When the name is too long or empty after the `/`.
 */
export function validatePosixName(
  name: string,
  what: string,
  maxBytes = 255,
): Uint8Array {
  if (typeof name !== "string") {
    throw new TypeError(`A ${what} name must be a string, got ${typeof name}`);
  }
  if (!name.startsWith("/")) {
    throw new TypeError(
      `Invalid ${what} name "${name}": it must start with "/"`,
    );
  }
  if (name.indexOf("/", 1) !== -1) {
    throw new TypeError(
      `Invalid ${what} name "${name}": only the leading "/" is allowed`,
    );
  }
  const bytes = cString(name);
  if (bytes.length - 2 > maxBytes) {
    throw new RangeError(
      `Invalid ${what} name "${name.slice(0, 20)}...": ${
        bytes.length - 2
      } bytes after "/", at most ${maxBytes} allowed`,
    );
  }
  if (name.length === 1) {
    throw new RangeError(`Invalid ${what} name "/": it needs a name after "/"`);
  }
  if (name === "/." || name === "/..") {
    throw new TypeError(
      `Invalid ${what} name "${name}": "." and ".." name directories`,
    );
  }
  return bytes;
}
