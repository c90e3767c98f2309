// A pool of two permits (licences, GPU slots, connections to a picky server)
// shared by any number of processes, on a POSIX named semaphore.
//
//   bun run examples/resource_pool.ts use 5000 &                    # holds one for 5 s
//   deno run --allow-ffi examples/resource_pool.ts use 5000 &       # holds the other
//   bun run examples/resource_pool.ts use 1000 500                  # gives up after 0.5 s
//   bun run examples/resource_pool.ts status
//   bun run examples/resource_pool.ts remove
//
// `use HOLD [WAIT] [NAME]` waits up to WAIT ms (default 10 s) for a permit,
// holds it for HOLD ms, and gives it back. Both waits are cancelled by one
// AbortSignal: the deadline, or Ctrl-C (SIGINT) and SIGTERM, which end the
// program cleanly, the permit given back. The semaphore is created with two
// permits by whoever comes first; "/ipckit_pool" unless NAME is given.
//
// A permit held by a process that is killed (SIGKILL, a crash) is LOST: a
// POSIX semaphore does not know who took what, and nobody posts it back.
// After two such deaths this pool is empty for good, until it is removed
// and made again. Where holders may die, use a System V semaphore set with
// `undo: true` (sem/'s SysvSemaphoreSet): the kernel gives a dead process's
// permits back. examples/resource_pool_undo.ts is this pool done that way.
import process from "node:process";
import { Semaphore } from "../sem/mod.ts";

const [command, ...rest] = process.argv.slice(2);
const PERMITS = 2;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

if (command === "use") {
  const [hold = "1000", wait = "10000", name = "/ipckit_pool"] = rest;
  // Ctrl-C or SIGTERM cancel whatever the program is waiting for.
  const interrupted = new AbortController();
  const stop = () => interrupted.abort(new Error("interrupted"));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  using pool = Semaphore.open(name, { create: true, value: PERMITS });
  console.log(`waiting for a permit (${pool.value} of ${PERMITS} free)`);
  try {
    // One signal for two reasons: the deadline, or an interruption.
    const waiting = AbortSignal.any([
      interrupted.signal,
      AbortSignal.timeout(Number(wait)),
    ]);
    using _permit = await pool.acquire({ signal: waiting });
    console.log(`got a permit; holding it for ${hold} ms`);
    await sleep(Number(hold), interrupted.signal);
    console.log("done; permit given back");
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      console.log(`gave up: no permit within ${wait} ms`);
      process.exitCode = 1;
    } else if (interrupted.signal.aborted) {
      console.log("interrupted; permit given back (if there was one)");
    } else {
      throw error;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
} else if (command === "status") {
  const [name = "/ipckit_pool"] = rest;
  using pool = Semaphore.open(name);
  console.log(`${pool.value} of ${PERMITS} permits free`);
} else if (command === "remove") {
  const [name = "/ipckit_pool"] = rest;
  Semaphore.unlink(name);
  console.log(`removed ${name}`);
} else {
  console.error(
    "usage: resource_pool.ts use [HOLD_MS] [WAIT_MS] [NAME] | status [NAME] | remove [NAME]",
  );
  process.exit(2);
}
