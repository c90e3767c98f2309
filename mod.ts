/**
 * ipckit: Linux inter-process communication for Deno and Bun. Each mechanism
 * is its own module (`@ipckit/ipc/mq`, ...); this root re-exports the public
 * API of them all, with {@linkcode IpcError} and {@linkcode isTimeoutError}.
 * The libc binding they stand on (`libc()`, the wait path, the validators)
 * is not re-exported here: import it from `@ipckit/ipc/ffi`.
 *
 * @example A POSIX message queue
 * ```ts
 * import { MessageQueue } from "@ipckit/ipc";
 *
 * using q = MessageQueue.temporary();
 * q.sendSync("hello");
 * console.log(new TextDecoder().decode(q.receiveSync().data)); // hello
 * ```
 *
 * @module
 */
export {
  IpcError,
  type IpcErrorOptions,
  isTimeoutError,
  type WaitOptions,
  type WaitSyncOptions,
} from "./ffi/mod.ts";
export * from "./mq/mod.ts";
export * from "./sem/mod.ts";
export * from "./shm/mod.ts";
export * from "./pipe/mod.ts";
export * from "./fifo/mod.ts";
export * from "./signal/mod.ts";
export * from "./socket/mod.ts";
