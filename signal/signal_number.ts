// Signal names and numbers on Linux (x86_64 and aarch64 number them alike),
// real-time signals included ("SIGRTMIN+3"), whose range glibc decides.
import { describeValue, libc } from "../ffi/mod.ts";

/** The classic signals, by the name `kill -l` gives them. */
export type StandardSignalName =
  | "SIGHUP"
  | "SIGINT"
  | "SIGQUIT"
  | "SIGILL"
  | "SIGTRAP"
  | "SIGABRT"
  | "SIGBUS"
  | "SIGFPE"
  | "SIGKILL"
  | "SIGUSR1"
  | "SIGSEGV"
  | "SIGUSR2"
  | "SIGPIPE"
  | "SIGALRM"
  | "SIGTERM"
  | "SIGSTKFLT"
  | "SIGCHLD"
  | "SIGCONT"
  | "SIGSTOP"
  | "SIGTSTP"
  | "SIGTTIN"
  | "SIGTTOU"
  | "SIGURG"
  | "SIGXCPU"
  | "SIGXFSZ"
  | "SIGVTALRM"
  | "SIGPROF"
  | "SIGWINCH"
  | "SIGIO"
  | "SIGPWR"
  | "SIGSYS";

/**
 * A signal by name: a classic one (`"SIGUSR1"`), or a real-time one
 * (`"SIGRTMIN"`, `"SIGRTMIN+3"`, `"SIGRTMAX-1"`, `"SIGRTMAX"`).
 */
export type SignalName =
  | StandardSignalName
  | "SIGRTMIN"
  | "SIGRTMAX"
  | `SIGRTMIN+${number}`
  | `SIGRTMAX-${number}`;

/** A signal by name, or by number. */
export type SignalId = SignalName | number;

const STANDARD: readonly StandardSignalName[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];
const ALIASES: Readonly<Record<string, number>> = {
  SIGIOT: 6,
  SIGCLD: 17,
  SIGPOLL: 29,
};
const HIGHEST = 64;

let range: [number, number] | undefined;

/** glibc's real-time range (34..64 on glibc: it keeps 32 and 33). */
function realTimeRange(): [number, number] {
  range ??= [
    libc().__libc_current_sigrtmin(),
    libc().__libc_current_sigrtmax(),
  ];
  return range;
}

/**
 * The number of a signal given by name (`"SIGTERM"` is 15, `"SIGRTMIN+3"`
 * is 37 with glibc) or by number (checked to be a Linux signal, 1 to 64).
 * See signal(7).
 *
 * @example
 * ```ts
 * import { signalNumber } from "@ipckit/ipc/signal";
 *
 * console.log(signalNumber("SIGUSR1")); // 10
 * console.log(signalNumber("SIGRTMIN+1") > signalNumber("SIGRTMIN")); // true
 * ```
 *
 * @param signal The name (as `kill -l` spells it, with `SIG`) or number.
 * @returns The number.
 * @throws {TypeError} For an unknown name or a value of another type.
 * @throws {RangeError} For a number that is no signal, or a real-time
 *   offset beyond the range.
 */
export function signalNumber(signal: SignalId): number {
  if (typeof signal === "number") {
    if (!Number.isInteger(signal) || signal < 1 || signal > HIGHEST) {
      throw new RangeError(
        `A signal number is an integer from 1 to ${HIGHEST}, got ${signal}`,
      );
    }
    return signal;
  }
  if (typeof signal !== "string") {
    throw new TypeError(
      `A signal is a name such as "SIGTERM" or a number, got ${
        describeValue(signal)
      }`,
    );
  }
  const at = STANDARD.indexOf(signal as StandardSignalName);
  if (at !== -1) return at + 1;
  const alias = ALIASES[signal];
  if (alias !== undefined) return alias;
  const m = /^SIGRT(MIN|MAX)(?:([+-])(\d{1,2}))?$/.exec(signal);
  if (
    m === null || (m[1] === "MIN" && m[2] === "-") ||
    (m[1] === "MAX" && m[2] === "+")
  ) {
    throw new TypeError(
      `Unknown signal name "${signal}": use a name from signal(7) such as "SIGUSR1", or "SIGRTMIN+n"`,
    );
  }
  const [min, max] = realTimeRange();
  const offset = m[3] === undefined ? 0 : Number(m[3]);
  const number = m[1] === "MIN" ? min + offset : max - offset;
  if (number < min || number > max) {
    throw new RangeError(
      `${signal} is outside the real-time signals: SIGRTMIN+0 to SIGRTMIN+${
        max - min
      } (${min} to ${max})`,
    );
  }
  return number;
}

/**
 * The name of a signal number: `"SIGUSR1"` for 10, `"SIGRTMIN+1"` for a
 * real-time signal (`"SIGRTMIN"` for the first), or `"SIG<n>"` for the two
 * numbers glibc keeps for itself (32, 33).
 *
 * @example
 * ```ts
 * import { signalName, signalNumber } from "@ipckit/ipc/signal";
 *
 * console.log(signalName(15)); // "SIGTERM"
 * console.log(signalName(signalNumber("SIGRTMIN+2"))); // "SIGRTMIN+2"
 * ```
 *
 * @param signal The number, 1 to 64.
 * @returns Its name.
 * @throws {RangeError} For a number that is no signal.
 */
export function signalName(signal: number): string {
  signalNumber(signal);
  const standard = STANDARD[signal - 1];
  if (standard !== undefined) return standard;
  const [min, max] = realTimeRange();
  if (signal < min || signal > max) return `SIG${signal}`;
  return signal === min ? "SIGRTMIN" : `SIGRTMIN+${signal - min}`;
}
