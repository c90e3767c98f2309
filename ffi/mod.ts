/**
 * The runtime-neutral libc binding every ipckit module stands on: one symbol
 * table turned into `Deno.dlopen` or `bun:ffi` definitions on first use,
 * {@linkcode IpcError} with the real errno (captured in the call's own native
 * frame), EINTR retried, and one wait path that never blocks the event loop
 * (an epoll reactor for descriptors, a futex table for shared memory).
 *
 * Needs `--allow-ffi` (nothing else) in Deno.
 *
 * @example Making a libc call with errors as IpcError
 * ```ts
 * import { IpcError, libc, sys } from "@ipckit/ipc/ffi";
 *
 * try {
 *   sys(() => libc().close(9999), { syscall: "close" });
 * } catch (e) {
 *   if (e instanceof IpcError) console.log(e.code); // "EBADF"
 * }
 * ```
 *
 * @module
 */
export * from "./error.ts";
export * from "./syscall.ts";
export * from "./names.ts";
export * from "./memory.ts";
export * from "./poll.ts";
export * from "./reactor.ts";
export * from "./futex.ts";
export * from "./sysv.ts";
export * from "./pause.ts";
export * from "./validate.ts";
export * from "./wait.ts";
export * from "./handle.ts";
export * from "./byte_io.ts";
export * from "./platform.ts";
export * from "./proc.ts";
export * from "./stat.ts";
export * from "./exit.ts";
export * from "./signal_handler.ts";
export {
  backend,
  errno,
  errnoCapture,
  hasLibcFunction,
  type Libc,
  libc,
  useDirectBinding,
} from "./_libc.ts";
export type {
  FcntlCalls,
  MmanCalls,
  MmanRtCalls,
  MqueueCalls,
  PollCalls,
  SemaphoreCalls,
  SocketCalls,
  StdlibCalls,
  SysvMsgCalls,
  SysvSemCalls,
  SysvShmCalls,
  TimeCalls,
  UnistdCalls,
} from "./_symbols.ts";
export type {
  Backend,
  FutexReport,
  Keeper,
  NativeCall,
  NativeFunction,
  NativeKind,
  NativeValue,
  Pointer,
  SymbolGroup,
  SymbolTable,
} from "./_types.ts";
