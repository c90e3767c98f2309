/**
 * Message queues: POSIX (`mq_open`, named, with priorities, pollable) and
 * System V (`msgget`, keyed, with typed messages).
 *
 * Needs only `--allow-ffi` in Deno: the limits in `/proc/sys/fs/mqueue` are
 * read through libc.
 *
 * @example A queue between two parts of a program
 * ```ts
 * import { MessageQueue } from "@ipckit/ipc/mq";
 *
 * using q = MessageQueue.temporary({ maxMessages: 10, messageSize: 1024 });
 * await q.send("job", { priority: 3 });
 * const { data, priority } = await q.receive({ timeout: 1000 });
 * console.log(new TextDecoder().decode(data), priority); // job 3
 * ```
 *
 * @module
 */
export * from "./message_queue.ts";
export {
  DescriptorHandle,
  Handle,
  IpcError,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";
export * from "./sysv_message_queue.ts";
