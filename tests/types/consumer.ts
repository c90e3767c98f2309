// A consumer of ipckit, type-checked (never run) by `npm test` under the
// settings its users have: `tsc` with a `bun init` tsconfig plus
// exactOptionalPropertyTypes and bun-types only (no Deno types), and
// `deno check` with Deno's strict options (deno_strict.json). Every entry
// point of deno.json is imported here (scripts/test.mjs checks that), so
// every source file of ipckit is checked under those settings.
import {
  IpcError,
  isTimeoutError,
  MessageQueue,
  Mutex,
  Semaphore,
  SharedMemory,
  type WaitOptions,
} from "@ipckit/ipc";
import * as ffi from "@ipckit/ipc/ffi";
import * as mq from "@ipckit/ipc/mq";
import * as sem from "@ipckit/ipc/sem";
import * as shm from "@ipckit/ipc/shm";
import * as pipe from "@ipckit/ipc/pipe";
import * as fifo from "@ipckit/ipc/fifo";
import * as signal from "@ipckit/ipc/signal";
import * as socket from "@ipckit/ipc/socket";

// The root has the user-facing API, not the libc binding.
// @ts-expect-error libc() is at @ipckit/ipc/ffi only
import { libc } from "@ipckit/ipc";

export const modules: readonly object[] = [
  ffi,
  mq,
  sem,
  shm,
  pipe,
  fifo,
  signal,
  socket,
];
export const binding: unknown = libc;

/**
 * Options forwarded from a caller's own optional values: with
 * exactOptionalPropertyTypes, ipckit's options must accept `undefined`.
 */
export async function receiveText(
  queue: MessageQueue,
  timeout?: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const options: WaitOptions = { timeout, signal };
  try {
    return new TextDecoder().decode((await queue.receive(options)).data);
  } catch (e) {
    if (isTimeoutError(e)) return undefined;
    if (e instanceof IpcError && e.code === "EBADF") return undefined;
    throw e;
  }
}

/** Options that have defaults may be left out. */
export function openAll(name: string): number {
  using q = MessageQueue.open(name, { create: true, mode: undefined });
  using s = Semaphore.open(name, { create: true });
  using m = SharedMemory.open(name, { create: true, size: 64 });
  using guard = Mutex.init(m.buffer).lockSync();
  const first: number | undefined = new Uint8Array(m.buffer)[0];
  return (first ?? 0) + q.attributes.messageSize + s.value +
    (guard.ownerDied ? 1 : 0);
}
