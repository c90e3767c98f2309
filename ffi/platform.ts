// What differs between machines, detected once, in one place: the
// architecture (x86_64 and aarch64 are supported) and the CPU count.

/** A machine fact that differs between the supported architectures. */
export interface Arch {
  /** `"x86_64"` or `"aarch64"`. */
  readonly name: "x86_64" | "aarch64";
  /** The futex syscall number. */
  readonly sysFutex: number;
  /** The size of `struct epoll_event` (packed on x86_64). */
  readonly epollEventSize: number;
}

let archCache: Arch | undefined;

/**
 * The running architecture. Only x86_64 and aarch64 are supported: on any
 * other, this throws rather than guess syscall numbers and struct layouts.
 *
 * @example
 * ```ts
 * import { arch } from "@ipckit/ipc/ffi";
 *
 * console.log(arch().name); // "x86_64" or "aarch64"
 * ```
 *
 * @returns The architecture's facts.
 * @throws {Error} On an unsupported architecture.
 */
export function arch(): Arch {
  if (archCache !== undefined) return archCache;
  const g = globalThis as {
    Deno?: { build: { arch: string } };
    process?: { arch: string };
  };
  const name = g.Deno?.build.arch ?? g.process?.arch;
  if (name === "x86_64" || name === "x64") {
    archCache = { name: "x86_64", sysFutex: 202, epollEventSize: 12 };
  } else if (name === "aarch64" || name === "arm64") {
    archCache = { name: "aarch64", sysFutex: 98, epollEventSize: 16 };
  } else {
    throw new Error(
      `ipckit supports Linux on x86_64 and aarch64 only; this is ${
        name ?? "an unknown architecture"
      }`,
    );
  }
  return archCache;
}

let cpus: number | undefined;

/**
 * How many CPUs this process may run on (spinning only pays off with 2+).
 *
 * @example
 * ```ts
 * import { cpuCount } from "@ipckit/ipc/ffi";
 *
 * console.log(cpuCount() >= 1); // true
 * ```
 *
 * @returns The CPU count, at least 1.
 */
export function cpuCount(): number {
  if (cpus === undefined) {
    const n = (globalThis as { navigator?: { hardwareConcurrency?: number } })
      .navigator?.hardwareConcurrency;
    cpus = typeof n === "number" && n >= 1 ? n : 1;
  }
  return cpus;
}
