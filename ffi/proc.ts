// Reading small kernel files (/proc, /sys) through libc: --allow-ffi covers
// it, where Deno's own file APIs demand --allow-all for /proc.
import { backend, errno, libc } from "./_libc.ts";
import { cString } from "./names.ts";

const O_RDONLY_CLOEXEC = 0x80000;
const EINTR = 4;
const decoder = new TextDecoder();

/**
 * Reads a small kernel file such as `/proc/sys/fs/mqueue/msg_max` through
 * libc (open/read/close), so Deno needs only `--allow-ffi`.
 *
 * @example
 * ```ts
 * import { readKernelFile } from "@ipckit/ipc/ffi";
 *
 * console.log(readKernelFile("/proc/sys/fs/pipe-max-size")?.trim());
 * ```
 *
 * @param path The file.
 * @param maxBytes The most bytes to read.
 * @returns Its text, or `undefined` when it cannot be read.
 */
export function readKernelFile(
  path: string,
  maxBytes = 65536,
): string | undefined {
  const fd = libc().open(cString(path), O_RDONLY_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    const buffer = new Uint8Array(maxBytes);
    let length = 0;
    while (length < maxBytes) {
      const n = libc().read(fd, buffer.subarray(length), maxBytes - length);
      if (n === 0) break;
      if (n < 0) {
        if (errno() === EINTR) continue;
        return undefined;
      }
      length += n;
    }
    return decoder.decode(buffer.subarray(0, length));
  } finally {
    libc().close(fd);
  }
}

/**
 * Reads a kernel file holding one integer (a sysctl such as
 * `/proc/sys/fs/mqueue/msg_max`).
 *
 * @example
 * ```ts
 * import { readKernelNumber } from "@ipckit/ipc/ffi";
 *
 * console.log(readKernelNumber("/proc/sys/fs/mqueue/msg_max")); // 10
 * ```
 *
 * @param path The file.
 * @returns The number, or `undefined` when unreadable.
 */
export function readKernelNumber(path: string): number | undefined {
  const text = readKernelFile(path, 64);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

/**
 * An environment variable as the C library sees it (getenv(3)): Deno needs
 * only `--allow-ffi`, not `--allow-env`.
 *
 * @example
 * ```ts
 * import { readEnvironment } from "@ipckit/ipc/ffi";
 *
 * console.log(readEnvironment("IPCKIT_FUTEX_WAIT")); // undefined unless set
 * ```
 *
 * @param name The variable.
 * @returns Its value, or `undefined` when unset.
 */
export function readEnvironment(name: string): string | undefined {
  const p = libc().getenv(cString(name));
  if (p === null || backend().addressOfPointer(p) === 0) return undefined;
  const length = libc().strlen(p);
  if (length === 0) return "";
  return decoder.decode(new Uint8Array(backend().view(p, length)).slice());
}
