import { errnoCode, errnoDescription, errnoNumber } from "./_errno.ts";

/** Options for {@linkcode IpcError}. */
export interface IpcErrorOptions {
  /** The C function that failed, such as `"mq_open"`. */
  syscall: string;
  /** The name or path of the object involved, when there is one. */
  path?: string | undefined;
  /**
   * What was being done, as a phrase after "Cannot", such as
   * `"open message queue"`.
   * @default {the syscall's name}
   */
  action?: string | undefined;
  /** Extra advice appended to the message (which limit to raise, say). */
  hint?: string | undefined;
}

/**
 * An operating-system error from an IPC call.
 *
 * Branch on {@linkcode IpcError.code}: it is the same string (`"ENOENT"`,
 * `"EAGAIN"`, ...) that Node, Deno and Bun use for their own errors.
 *
 * @example Telling a missing queue from other failures
 * ```ts
 * import { IpcError } from "@ipckit/ipc/ffi";
 *
 * const error = new IpcError(2, { syscall: "mq_open", path: "/jobs", action: "open message queue" });
 * console.log(error.message); // Cannot open message queue "/jobs": ENOENT (No such file or directory)
 * if (error.code === "ENOENT") console.log("create it first");
 * ```
 */
export class IpcError extends Error {
  /** The errno number, such as 2. */
  readonly errno: number;
  /** The symbolic errno code, such as `"ENOENT"`. */
  readonly code: string;
  /** The C function that failed, such as `"mq_open"`. */
  readonly syscall: string;
  /** The name or path of the object involved, when there is one. */
  readonly path?: string | undefined;

  /**
   * Makes an error from an errno number (or code) and what failed.
   *
   * @param errno The errno number, or its code such as `"EBADF"`.
   * @param options What failed.
   */
  constructor(errno: number | string, options: IpcErrorOptions) {
    const number = typeof errno === "number" ? errno : errnoNumber(errno) ?? 0;
    const code = typeof errno === "string" ? errno : errnoCode(errno);
    const what = `Cannot ${options.action ?? options.syscall}` +
      (options.path === undefined ? "" : ` "${options.path}"`);
    super(
      `${what}: ${code} (${errnoDescription(number)})` +
        (options.hint ? `. ${options.hint}` : ""),
    );
    this.name = "IpcError";
    this.errno = number;
    this.code = code;
    this.syscall = options.syscall;
    if (options.path !== undefined) this.path = options.path;
  }
}

/**
 * The error for a handle used after `close()`: code `EBADF`, raised before
 * any syscall.
 *
 * @example
 * ```ts
 * import { closedError } from "@ipckit/ipc/ffi";
 *
 * const error = closedError("message queue", "/jobs", "mq_send");
 * console.log(error.code); // "EBADF"
 * ```
 *
 * @param what The kind of handle, such as `"message queue"`.
 * @param path The object's name, when it has one.
 * @param syscall The call that was about to be made.
 * @returns An {@linkcode IpcError} whose message says the handle is closed.
 */
export function closedError(
  what: string,
  path: string | undefined,
  syscall: string,
): IpcError {
  return new IpcError("EBADF", {
    syscall,
    path,
    action: `use ${what}`,
    hint: `The ${what} is closed`,
  });
}
