/**
 * Named pipes (FIFOs): `mkfifo(3)`, opening either end without blocking the
 * event loop (with a timeout and an `AbortSignal`), reads and writes in sync,
 * async and non-blocking forms, Web Streams, and removal that touches only a
 * FIFO.
 *
 * Needs `--allow-ffi` in Deno.
 *
 * @example Two ends of a FIFO
 * ```ts
 * import { createFifo, openFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/example-${Date.now()}.fifo`;
 * createFifo(path, { mode: 0o600 });
 * try {
 *   const reading = openFifo(path, "read", { timeout: 5000 });
 *   await using writer = await openFifo(path, "write", { timeout: 5000 });
 *   await using reader = await reading;
 *   writer.writeSync("ping");
 *   const buffer = new Uint8Array(4);
 *   reader.readSync(buffer);
 *   console.log(new TextDecoder().decode(buffer)); // ping
 * } finally {
 *   removeFifo(path);
 * }
 * ```
 *
 * @module
 */
export * from "./fifo.ts";
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
