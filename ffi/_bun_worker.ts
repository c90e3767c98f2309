// The one module Bun's helper threads run: the reactor (_reactor_worker.ts)
// or the futex table (_futex_worker.ts), as `workerData.kind` says. It is
// bundled, with everything it imports, into one JavaScript string
// (_bun_worker_source.ts, made by `node scripts/build.mjs --worker`) that
// _bun.ts starts with `eval`, so the helper threads need no file beside the
// program: they work in a `bun build` bundle, a `bun build --compile`
// executable and the npm build alike.
import { parentPort, workerData } from "node:worker_threads";
import { runReactor } from "./_reactor_worker.ts";
import { runFutexWaiter } from "./_futex_worker.ts";

/** What _bun.ts passes a helper thread. */
export type BunWorkerData =
  | { kind: "reactor"; epfd: number }
  | { kind: "futex"; buffer: SharedArrayBuffer };

const data = workerData as BunWorkerData;
const port = parentPort!;
if (data.kind === "reactor") {
  runReactor(data.epfd, (fired) => port.postMessage(fired));
} else if (data.kind === "futex") {
  runFutexWaiter(data.buffer, (report) => port.postMessage(report));
} else {
  throw new Error(`unknown ipckit helper thread kind: ${String(data)}`);
}
