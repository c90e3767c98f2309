/**
 * Shared memory between processes: POSIX shared memory objects
 * (`shm_open`, named, in `/dev/shm`), memory-mapped files, anonymous
 * `memfd` memory with seals (passed as a descriptor), System V segments
 * (`shmget`), and advisory file locks (fcntl open-file-description record
 * locks and flock) to take turns on them. Every mapping is one zero-copy
 * `ArrayBuffer`, with checked typed views; `Atomics` on it work across
 * processes.
 *
 * Needs only `--allow-ffi` in Deno: files, /proc and /sys are all read
 * through libc.
 *
 * @example Memory two processes share by name
 * ```ts
 * import { SharedMemory } from "@ipckit/ipc/shm";
 *
 * using shm = SharedMemory.temporary({ size: 1 << 16 });
 * using other = SharedMemory.open(shm.name); // as another process would
 * Atomics.store(shm.view(Int32Array, 0, 1), 0, 42);
 * console.log(Atomics.load(other.view(Int32Array, 0, 1), 0)); // 42
 * ```
 *
 * @module
 */
export * from "./mapped_memory.ts";
export * from "./shared_memory.ts";
export * from "./mapped_file.ts";
export * from "./memfd.ts";
export * from "./sysv_shared_memory.ts";
export * from "./file_lock.ts";
export {
  Handle,
  IpcError,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";
