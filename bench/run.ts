// ipckit benchmarks: every suite next to a C program doing the same thing,
// built with gcc and run in this invocation, JS and C rounds interleaved.
//
//   deno run -A bench/run.ts [suite...]     (deno task bench)
//   bun run bench/run.ts [suite...]         (npm run bench)
//
// Suites (all by default; name some to run only those):
//   mq   POSIX message queues: round trip and throughput (suite_mq.ts)
//   shm  shared memory ping-pong with futex wake-ups (suite_shm.ts)
//   sem  named semaphore ping-pong; Mutex uncontended and contended
//        (suite_sem.ts)
//   signal  SIGUSR2 round trip: signals() vs the runtime's listener vs C
//        (suite_signal.ts)
//
// JS scenarios run in fresh processes, under `taskset -c 0` for the pinned
// placement. The harness (_harness.ts) owns every process and every named
// object (random /ipckit_bench_* names): it kills the processes and unlinks
// the objects in `finally` and on Ctrl-C. Each suite prints its report and
// writes bench/results/<suite>-<runtime>.{md,svg}.
import process from "node:process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupAll, runtime } from "./_harness.ts";
import { runMq } from "./suite_mq.ts";
import { runShm } from "./suite_shm.ts";
import { runSem } from "./suite_sem.ts";
import { runSignal } from "./suite_signal.ts";

const SUITES: Record<string, (tmp: string) => Promise<void>> = {
  mq: runMq,
  shm: runShm,
  sem: runSem,
  signal: runSignal,
  pipe: (tmp) => import("./suite_pipe.ts").then((m) => m.runPipe(tmp)),
  socket: (tmp) => import("./suite_socket.ts").then((m) => m.runSocket(tmp)),
};

const asked = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const name of asked) {
  if (!(name in SUITES)) {
    console.error(
      `Unknown suite "${name}"; known: ${Object.keys(SUITES).join(", ")}`,
    );
    process.exit(2);
  }
}
const chosen = asked.length > 0 ? asked : Object.keys(SUITES);

// Ctrl-C: the finally block below cannot run, so clean up here.
process.on("SIGINT", () => {
  cleanupAll();
  process.exit(130);
});

const tmp = mkdtempSync(join(tmpdir(), "ipckit-bench-"));
try {
  for (const name of chosen) {
    console.error(`== ${name} suite (${runtime.name} ${runtime.version})`);
    const t0 = performance.now();
    await SUITES[name](tmp);
    console.error(
      `== ${name} suite took ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
} finally {
  cleanupAll();
  rmSync(tmp, { recursive: true, force: true });
}
