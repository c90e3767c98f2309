/**
 * ipckit: Linux inter-process communication for Deno and Bun. Each mechanism
 * is its own module (`@ipckit/ipc/mq`, ...); this root re-exports them all.
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
export * from "./ffi/mod.ts";
export * from "./mq/mod.ts";
export * from "./sem/mod.ts";
export * from "./shm/mod.ts";
export * from "./pipe/mod.ts";
export * from "./fifo/mod.ts";
export * from "./signal/mod.ts";
export * from "./socket/mod.ts";
