// Sending a signal: kill(2), or sigqueue(3) when it carries a value.
import { checkInteger, checkOptions, libc, sys } from "../ffi/mod.ts";
import { selfSignalled } from "./_self.ts";
import { type SignalId, signalName, signalNumber } from "./signal_number.ts";

/** Options of {@linkcode sendSignal}. */
export interface SendSignalOptions {
  /**
   * A value to send with the signal (`sigqueue(3)`, `si_value.sival_int`): a
   * 32-bit signed integer. The receiver's {@linkcode signals} iterator gets
   * it as `value`. Without it the signal goes by `kill(2)`.
   * @default {undefined}
   */
  value?: number | undefined;
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/**
 * Sends a signal to a process: `kill(2)`, or `sigqueue(3)` when a `value`
 * is given (a real-time signal sent that way is queued: each one is
 * delivered, in addition to its value). See signal(7).
 *
 * `pid` follows kill(2): a process id, `0` for the caller's process group,
 * `-pgid` for another group (`sigqueue` takes only a process id). Signal
 * `0` sends nothing and only checks that the process exists and may be
 * signalled.
 *
 * @example Sending a value to this very process
 * ```ts
 * import { sendSignal, signals } from "@ipckit/ipc/signal";
 *
 * const deliveries = signals(["SIGRTMIN+1"]);
 * sendSignal(process.pid, "SIGRTMIN+1", { value: 42 });
 * for await (const s of deliveries) {
 *   console.log(s.signal, s.value); // SIGRTMIN+1 42 (undefined without the trampoline)
 *   break; // ends the iteration and restores the previous disposition
 * }
 * ```
 *
 * @param pid The target, as kill(2) takes it.
 * @param signal The signal by name (`"SIGTERM"`, `"SIGRTMIN+3"`) or number
 *   (`0` checks only that the target exists).
 * @param options The value to queue with it.
 * @throws {TypeError} For an unknown signal name, or arguments of the
 *   wrong type.
 * @throws {RangeError} For a pid or value that is not a 32-bit integer, or
 *   a number that is no signal.
 * @throws {IpcError} `ESRCH` when no such process exists, `EPERM` when the
 *   caller may not signal it, `EAGAIN` when the target's queue of real-time
 *   signals is full (`RLIMIT_SIGPENDING`).
 */
export function sendSignal(
  pid: number,
  signal: SignalId,
  options?: SendSignalOptions,
): void {
  checkInteger(pid, "pid", INT32_MIN, INT32_MAX);
  const number = signal === 0 ? 0 : signalNumber(signal);
  const { value } = checkOptions(options);
  const label = number === 0 ? "0" : signalName(number);
  if (value === undefined) {
    sys(() => libc().kill(pid, number), {
      syscall: "kill",
      action: `send ${label} to process ${pid}`,
    }, explain);
    if (pid <= 0 || pid === ownPid()) selfSignalled();
    return;
  }
  checkInteger(value, "value", INT32_MIN, INT32_MAX);
  // union sigval goes in a register: its int member is the low 32 bits.
  sys(() => libc().sigqueue(pid, number, value >>> 0), {
    syscall: "sigqueue",
    action: `queue ${label} with value ${value} to process ${pid}`,
  }, explain);
  if (pid === ownPid()) selfSignalled();
}

let cachedPid = 0;

/** This process's id (JavaScript runtimes do not fork). */
function ownPid(): number {
  return cachedPid ||= libc().getpid();
}

function explain(code: string): string | undefined {
  switch (code) {
    case "ESRCH":
      return "No process (or process group) has that id";
    case "EPERM":
      return "The target runs as another user: only its owner or a privileged process (CAP_KILL) may signal it";
    case "EAGAIN":
      return "The target's queue of pending real-time signals is full (RLIMIT_SIGPENDING)";
    case "EINVAL":
      return "sigqueue() needs a positive process id";
    default:
      return undefined;
  }
}
