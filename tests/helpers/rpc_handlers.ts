// The handlers the RPC tests serve, in process and from tests/helpers/rpc_peer.ts.
import process from "node:process";

/** add, echo, bytes, pid, sleep (abortable), fail (throws with a code), exit. */
export const HANDLERS = {
  add: ([a, b]: [number, number]) => a + b,
  echo: (value: unknown) => value,
  bytes: (data: Uint8Array) => ({
    length: data.length,
    sum: data.reduce((s, v) => (s + v) >>> 0, 0),
    reversed: data.slice().reverse(),
  }),
  pid: () => ({
    pid: process.pid,
    runtime: "Bun" in globalThis ? "bun" : "deno",
  }),
  sleep: (ms: number, { signal }: { signal: AbortSignal }) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(ms), ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    }),
  fail: (code: string) => {
    throw Object.assign(new RangeError(`failed with ${code}`), {
      code,
      data: { detail: [1, 2] },
    });
  },
  exit: () => process.exit(3),
};
