/**
 * Semaphores and locks between processes: POSIX named semaphores (any
 * process or language reaches them by name), unnamed semaphores, a robust
 * futex {@linkcode Mutex} and a {@linkcode Condition} placed inside shared
 * memory, and System V semaphore sets.
 *
 * Needs only `--allow-ffi` in Deno (the mutex reads /proc through libc to
 * tell a dead owner).
 *
 * @example A named semaphore as a counter of free slots
 * ```ts
 * import { Semaphore } from "@ipckit/ipc/sem";
 *
 * using slots = Semaphore.temporary({ value: 2 });
 * using _permit = await slots.acquire({ timeout: 1000 });
 * console.log(slots.value); // 1
 * ```
 *
 * @module
 */
export * from "./semaphore.ts";
export {
  Handle,
  IpcError,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";
export * from "./mutex.ts";
export * from "./condition.ts";
export * from "./sysv_semaphore_set.ts";
