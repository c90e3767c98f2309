// The trampoline's signal handler (ffi/_trampoline.c): an SA_SIGINFO handler
// in C that writes one 32-byte record per delivery into a pipe, for signal/.
// Native code, so no runtime has to make machine code executable, and both
// runtimes load the same object. Absent where the trampoline cannot load.
import { backend, trampolinePath } from "./_libc.ts";
import type { NativeCall } from "./_types.ts";
import { native as fn } from "./_types.ts";

/**
 * The native signal handler ipckit installs with `sigaction(SA_SIGINFO)`.
 * Each delivery of a signal it handles becomes one
 * {@linkcode SIGNAL_RECORD_SIZE}-byte record in the pipe given to
 * {@linkcode NativeSignalHandler.setPipe}: int32 signal, int32 `si_code`,
 * int32 sender pid, uint32 sender uid, int32 value (`sival_int`), int32
 * deliveries of that signal lost before this one (pipe full), 8 bytes
 * reserved. The handler never blocks and leaves errno as it found it.
 */
export interface NativeSignalHandler {
  /** Gives the handler the write end (non-blocking) of its pipe. */
  setPipe(fd: number): void;
  /**
   * Installs the handler for `signal`, keeping the disposition it replaces
   * (put back by `restore`). `chain`: whether the handler calls the one it
   * replaced after each record; `"gated"`: only while no delivery it passed
   * on waits for {@linkcode NativeSignalHandler.acknowledge} (for a runtime
   * whose listener, called through that handler, acknowledges: the
   * runtime coalesces those deliveries anyway, and its listener's next call
   * proves it has handled every one passed on). Returns 0 or `-errno`.
   */
  install(signal: number, chain: boolean | "gated"): number;
  /**
   * Installs the handler again if something replaced it since (the
   * newcomer is then kept to chain to and to restore). Returns 1 when it
   * did, 0 when the handler was in place, or `-errno`.
   */
  check(signal: number): number;
  /** Puts back the disposition `install` replaced. Returns 0 or `-errno`. */
  restore(signal: number): number;
  /** Takes the count of deliveries lost that no record reported yet. */
  takeLost(signal: number): number;
  /**
   * The runtime's listener ran (`"gated"` chaining): the next delivery is
   * passed on again. Returns whether a delivery passed on waited for it.
   */
  acknowledge(signal: number): boolean;
  /**
   * What may still reach the replaced handler after `restore`: bit 1, a
   * delivery passed on (`"gated"`) that no listener call acknowledged yet;
   * bit 2, the handler running for `signal` on some thread right now.
   */
  unsettled(signal: number): number;
}

/** The size of one record of the {@linkcode NativeSignalHandler}. */
export const SIGNAL_RECORD_SIZE = 32;

const TABLE = {
  ipckit_signal_pipe: fn(["i32"], "void"), // void ipckit_signal_pipe(int fd)
  ipckit_signal_install: fn(["i32", "i32"], "i32"), // int ipckit_signal_install(int signo, int chain)
  ipckit_signal_check: fn(["i32"], "i32"), // int ipckit_signal_check(int signo)
  ipckit_signal_restore: fn(["i32"], "i32"), // int ipckit_signal_restore(int signo)
  ipckit_signal_lost: fn(["i32"], "i32"), // int ipckit_signal_lost(int signo)
  ipckit_signal_ack: fn(["i32"], "i32"), // int ipckit_signal_ack(int signo)
  ipckit_signal_unsettled: fn(["i32"], "i32"), // int ipckit_signal_unsettled(int signo)
};

let cache: NativeSignalHandler | null | undefined;

/**
 * The native signal handler, or `undefined` where the errno-safe
 * trampoline cannot load (`errnoCapture()` is `"direct"`): callers then
 * fall back to the runtime's own signal listeners.
 *
 * @example
 * ```ts
 * import { nativeSignalHandler } from "@ipckit/ipc/ffi";
 *
 * console.log(nativeSignalHandler() !== undefined); // true where the trampoline loads
 * ```
 *
 * @returns The handler's controls, or `undefined`.
 */
export function nativeSignalHandler(): NativeSignalHandler | undefined {
  if (cache === undefined) {
    const path = trampolinePath();
    if (path === null) {
      cache = null;
    } else {
      const f: Record<string, NativeCall> = backend().open(path, TABLE);
      const call = (name: keyof typeof TABLE) => f[name]!;
      const setPipe = call("ipckit_signal_pipe");
      const install = call("ipckit_signal_install");
      const check = call("ipckit_signal_check");
      const restore = call("ipckit_signal_restore");
      const lost = call("ipckit_signal_lost");
      const ack = call("ipckit_signal_ack");
      const unsettled = call("ipckit_signal_unsettled");
      cache = {
        setPipe: (fd) => void setPipe(fd),
        install: (signal, chain) =>
          install(signal, chain === "gated" ? 2 : chain ? 1 : 0),
        check: (signal) => check(signal),
        restore: (signal) => restore(signal),
        takeLost: (signal) => lost(signal),
        acknowledge: (signal) => ack(signal) !== 0,
        unsettled: (signal) => unsettled(signal),
      };
    }
  }
  return cache ?? undefined;
}
