// Checks at the door, shared by every module: `deno run` and `bun run` do not
// type-check, so a timeout, a spin or a payload is validated here before any
// syscall, with one message per mistake.

const encoder = new TextEncoder();

/** The longest delay one timer can take (setTimeout clamps above it). */
export const MAX_TIMER_MS = 0x7fffffff;

/**
 * A value as error messages show it: `null`, `an array`, `the string "x"`,
 * `number NaN`, the class of an object.
 *
 * @example
 * ```ts
 * import { describeValue } from "@ipckit/ipc/ffi";
 *
 * console.log(describeValue(NaN)); // number NaN
 * ```
 *
 * @param value Anything.
 * @returns A short description.
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string "${value.slice(0, 20)}"`;
  if (typeof value === "function") return `the function ${value.name}`;
  if (typeof value === "object") {
    return Object.prototype.toString.call(value).slice(8, -1);
  }
  return `${typeof value} ${String(value)}`;
}

/**
 * Checks a `timeout` option: `undefined` (no limit) or a number of
 * milliseconds `>= 0`; `Infinity` also means no limit. Nothing is coerced:
 * `"100"`, `null`, `true` and `NaN` are refused.
 *
 * @example
 * ```ts
 * import { checkTimeout } from "@ipckit/ipc/ffi";
 *
 * console.log(checkTimeout(undefined)); // undefined
 * console.log(checkTimeout(250)); // 250
 * try { checkTimeout(-1); } catch (e) { console.log((e as Error).name); } // RangeError
 * ```
 *
 * @param value The option as given.
 * @param name The option's name, for the message.
 * @returns The timeout, or `undefined` for no limit.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is NaN or negative.
 */
export function checkTimeout(
  value: unknown,
  name = "timeout",
): number | undefined {
  if (value === undefined || value === Infinity) return undefined;
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number of milliseconds, got ${describeValue(value)}`,
    );
  }
  if (!(value >= 0)) {
    throw new RangeError(
      `${name} must be a number of milliseconds >= 0, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks a `spin` option: microseconds to retry before parking, a finite
 * number from 0 to 1,000,000 (one second).
 *
 * @example
 * ```ts
 * import { checkSpin } from "@ipckit/ipc/ffi";
 *
 * console.log(checkSpin(undefined, 50)); // 50
 * ```
 *
 * @param value The option as given.
 * @param fallback What `undefined` means.
 * @returns The spin in microseconds.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is NaN, negative or above one second.
 */
export function checkSpin(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(
      `spin must be a number of microseconds, got ${describeValue(value)}`,
    );
  }
  if (!(value >= 0 && value <= 1_000_000)) {
    throw new RangeError(
      `spin must be from 0 to 1000000 microseconds, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks an integer option or argument against a range.
 *
 * @example
 * ```ts
 * import { checkInteger } from "@ipckit/ipc/ffi";
 *
 * console.log(checkInteger(5, "priority", 0, 32767)); // 5
 * ```
 *
 * @param value The value as given.
 * @param name Its name, for the message.
 * @param min The smallest value allowed.
 * @param max The largest value allowed.
 * @returns The value.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not an integer in `min..max`.
 */
export function checkInteger(
  value: unknown,
  name: string,
  min: number,
  max: number,
): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be an integer, got ${describeValue(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks an options argument: `undefined` or a plain object.
 *
 * @example
 * ```ts
 * import { checkOptions } from "@ipckit/ipc/ffi";
 *
 * console.log(checkOptions(undefined)); // {}
 * ```
 *
 * @param value The argument as given.
 * @param name Its name, for the message.
 * @returns The object (`{}` for `undefined`).
 * @throws {TypeError} For anything but an object.
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  name = "options",
): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `${name} must be an object, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * The bytes of a payload: a string as UTF-8, and every byte of an
 * `ArrayBuffer`, `SharedArrayBuffer` or any `ArrayBufferView` (an
 * `Int32Array` of 2 elements is 8 bytes), honouring `byteOffset` and
 * `byteLength`. No copy is made for views and buffers.
 *
 * @example
 * ```ts
 * import { toBytes } from "@ipckit/ipc/ffi";
 *
 * console.log(toBytes(new Int32Array([1, 2]), "data").length); // 8
 * console.log(toBytes("hé", "data").length); // 3
 * ```
 *
 * @param data The payload.
 * @param name The parameter's name, for the message.
 * @returns A `Uint8Array` over the same bytes.
 * @throws {TypeError} For anything else (a number, a plain object, null),
 *   and for a detached buffer.
 */
export function toBytes(data: unknown, name: string): Uint8Array {
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
    const buffer = ArrayBuffer.isView(data) ? data.buffer : data;
    if ((buffer as { detached?: boolean }).detached === true) {
      throw new TypeError(
        `${name} is a detached ArrayBuffer (or a view of one): its memory was transferred away`,
      );
    }
  }
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return encoder.encode(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (
    data instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" &&
      data instanceof SharedArrayBuffer)
  ) {
    return new Uint8Array(data);
  }
  throw new TypeError(
    `${name} must be a string, an ArrayBuffer or an ArrayBufferView (such as Uint8Array), got ${
      describeValue(data)
    }`,
  );
}

/**
 * A writable byte view over a caller's buffer (for receives into it): every
 * byte of any `ArrayBufferView` or `ArrayBuffer`.
 *
 * @example
 * ```ts
 * import { toWritableBytes } from "@ipckit/ipc/ffi";
 *
 * console.log(toWritableBytes(new Float64Array(2), "buffer").length); // 16
 * ```
 *
 * @param buffer The caller's buffer.
 * @param name The parameter's name, for the message.
 * @returns A `Uint8Array` over the same memory.
 * @throws {TypeError} For anything else (strings included).
 */
export function toWritableBytes(buffer: unknown, name: string): Uint8Array {
  if (ArrayBuffer.isView(buffer) || buffer instanceof ArrayBuffer) {
    return toBytes(buffer, name);
  }
  if (
    typeof SharedArrayBuffer !== "undefined" &&
    buffer instanceof SharedArrayBuffer
  ) {
    return toBytes(buffer, name);
  }
  throw new TypeError(
    `${name} must be an ArrayBuffer or an ArrayBufferView to write into, got ${
      describeValue(buffer)
    }`,
  );
}

/**
 * Checks a `signal` option: `undefined` or an `AbortSignal`.
 *
 * @example
 * ```ts
 * import { checkSignal } from "@ipckit/ipc/ffi";
 *
 * console.log(checkSignal(undefined)); // undefined
 * ```
 *
 * @param value The option as given.
 * @returns The signal.
 * @throws {TypeError} For anything else.
 */
export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new TypeError(
    `signal must be an AbortSignal, got ${describeValue(value)}`,
  );
}

/**
 * Checks a boolean option; `undefined` gives `fallback`, nothing is coerced.
 *
 * @example
 * ```ts
 * import { checkBoolean } from "@ipckit/ipc/ffi";
 *
 * console.log(checkBoolean(undefined, "create", false)); // false
 * ```
 *
 * @param value The option as given.
 * @param name Its name, for the message.
 * @param fallback What `undefined` means.
 * @returns The boolean.
 * @throws {TypeError} For anything but a boolean or `undefined`.
 */
export function checkBoolean(
  value: unknown,
  name: string,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(
      `${name} must be a boolean, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * Checks a permission mode such as `0o600`.
 *
 * @example
 * ```ts
 * import { checkMode } from "@ipckit/ipc/ffi";
 *
 * console.log(checkMode(0o640).toString(8)); // 640
 * ```
 *
 * @param mode The mode as given.
 * @param max The largest mode allowed.
 * @returns The mode.
 * @throws {TypeError} For a non-number.
 * @throws {RangeError} For a non-integer or a mode outside `0..max`.
 */
export function checkMode(mode: unknown, max = 0o7777): number {
  if (typeof mode !== "number") {
    throw new TypeError(
      `mode must be a number such as 0o600, got ${describeValue(mode)}`,
    );
  }
  if (!Number.isInteger(mode) || mode < 0 || mode > max) {
    throw new RangeError(
      `mode must be an integer from 0 to 0o${max.toString(8)}, got ${mode}`,
    );
  }
  return mode;
}
