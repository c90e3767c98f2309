// A thread that makes one blocking FUTEX_WAIT at a time for the main thread,
// reading errno right after on its own thread. It waits in 50 ms slices and
// checks a cancel flag between them, so a cancelled wait never leaves it
// blocked even if the cancelling wake raced ahead of the wait.
import { parentPort } from "node:worker_threads";
import { ARCH, errno, libc } from "./_libc.ts";

const FUTEX_WAIT = 0;
const EAGAIN = 11;
const ETIMEDOUT = 110;
const slice = new BigInt64Array([0n, 50_000_000n]); // 50 ms
const { syscall } = libc();

interface Request {
  address: number;
  expected: number;
  cancel: Int32Array;
}

parentPort!.on("message", ({ address, expected, cancel }: Request) => {
  for (;;) {
    if (Atomics.load(cancel, 0) !== 0) {
      parentPort!.postMessage("cancelled");
      return;
    }
    const r = syscall(
      ARCH.sysFutex,
      address,
      FUTEX_WAIT,
      expected,
      slice,
      0,
      0,
    );
    if (r === 0) {
      parentPort!.postMessage("ok");
      return;
    }
    const e = errno();
    if (e === EAGAIN) {
      parentPort!.postMessage("not-equal");
      return;
    }
    if (e !== ETIMEDOUT && e !== 4) {
      parentPort!.postMessage(`error:${e}`);
      return;
    }
  }
});
