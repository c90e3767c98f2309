/**
 * Signals: sending them (`kill`, `sigqueue` with a value) and listening for
 * them as an async iterator that gives the sender's pid, uid and value, for
 * classic and real-time signals (`"SIGRTMIN+3"`), in Deno and Bun.
 *
 * Needs only `--allow-ffi` in Deno.
 *
 * @example A value queued to this process
 * ```ts
 * import { sendSignal, signals } from "@ipckit/ipc/signal";
 *
 * using deliveries = signals(["SIGRTMIN+2"]);
 * sendSignal(process.pid, "SIGRTMIN+2", { value: 7 });
 * const { value } = await deliveries.next();
 * console.log(value?.signal, value?.value); // SIGRTMIN+2 7
 * ```
 *
 * @module
 */
export * from "./signal_number.ts";
export * from "./send_signal.ts";
export * from "./signals.ts";
export { IpcError } from "../ffi/mod.ts";
