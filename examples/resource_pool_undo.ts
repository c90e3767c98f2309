// The pool of examples/resource_pool.ts on a System V semaphore set, whose
// permits come back when a holder dies: each take and give is made with
// `undo: true` (SEM_UNDO), so the kernel keeps a tally per process and
// reverses it when the process ends, however it ends (SIGKILL included).
//
//   bun run examples/resource_pool_undo.ts use 60000 &   # takes a permit
//   kill -9 %1                                           # dies holding it
//   bun run examples/resource_pool_undo.ts status        # 2 of 2 free: given back
//   bun run examples/resource_pool_undo.ts remove
//
// The set is found by a key made from a path that every process agrees on
// (ftok(3)): /tmp and project 0x70 unless a numeric KEY is given last.
// Prefer this to a POSIX semaphore wherever a holder may be killed; the
// price is that an async wait polls (pauses of 0.1 to 5 ms) instead of
// sleeping in the kernel.
import process from "node:process";
import { IpcError, SysvSemaphoreSet } from "../sem/mod.ts";

const [command, ...rest] = process.argv.slice(2);
const PERMITS = 2;

function keyOf(text: string | undefined): number {
  return text === undefined
    ? SysvSemaphoreSet.keyFromPath("/tmp", 0x70)
    : Number(text);
}

/** Opens the set; whoever creates it fills it with the permits. */
function openPool(key: number): SysvSemaphoreSet {
  try {
    const pool = SysvSemaphoreSet.open(key, {
      create: true,
      exclusive: true,
      count: 1,
    });
    pool.set(0, PERMITS); // a taker that came first waits until now
    return pool;
  } catch (error) {
    if (!(error instanceof IpcError && error.code === "EEXIST")) throw error;
    return SysvSemaphoreSet.open(key);
  }
}

if (command === "use") {
  const [hold = "1000", wait = "10000", key] = rest;
  using pool = openPool(keyOf(key));
  console.log(`waiting for a permit (${pool.get(0)} of ${PERMITS} free)`);
  try {
    await pool.operate([{ index: 0, delta: -1, undo: true }], {
      timeout: Number(wait),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      console.log(`gave up: no permit within ${wait} ms`);
      process.exit(1);
    }
    throw error;
  }
  console.log(`got a permit; holding it for ${hold} ms`);
  await new Promise((resolve) => setTimeout(resolve, Number(hold)));
  // Giving back with undo too, so that the tally is even again.
  pool.operateSync([{ index: 0, delta: 1, undo: true }]);
  console.log("done; permit given back");
} else if (command === "status") {
  using pool = SysvSemaphoreSet.open(keyOf(rest[0]));
  console.log(`${pool.get(0)} of ${PERMITS} permits free`);
} else if (command === "remove") {
  using pool = SysvSemaphoreSet.open(keyOf(rest[0]));
  pool.remove();
  console.log("removed");
} else {
  console.error(
    "usage: resource_pool_undo.ts use [HOLD_MS] [WAIT_MS] [KEY] | status [KEY] | remove [KEY]",
  );
  process.exit(2);
}
