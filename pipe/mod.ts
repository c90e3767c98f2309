/**
 * Anonymous pipes (`pipe2(2)`): both ends as handles with sync, async and
 * non-blocking reads and writes and Web Streams, a settable capacity, packet
 * mode, ends to hand to child processes, and process pipelines joined by
 * kernel pipes.
 *
 * Needs `--allow-ffi` in Deno, and `--allow-run --allow-env` for
 * {@linkcode pipeline}.
 *
 * @example A pipe between two parts of a program
 * ```ts
 * import { createPipe } from "@ipckit/ipc/pipe";
 *
 * using pipe = createPipe();
 * await pipe.writer.write("ping");
 * const buffer = new Uint8Array(4);
 * await pipe.reader.read(buffer, { timeout: 1000 });
 * console.log(new TextDecoder().decode(buffer)); // ping
 * ```
 *
 * @module
 */
export * from "./pipe.ts";
export * from "./pipeline.ts";
export {
  type DescriptorEndOptions,
  DescriptorHandle,
  DescriptorReader,
  type DescriptorReaderOptions,
  DescriptorWriter,
  Handle,
  IpcError,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";
