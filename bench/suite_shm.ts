// Shared memory suite: two processes map one SharedMemory segment and take
// turns flipping a 32-bit word, waking each other with futexWake and
// sleeping in futexWaitSync (sync) or futexWait (async), next to
// bench/c/futex_pingpong.c doing the same with syscall(SYS_futex), built and
// run in this invocation. The raw row calls libc().syscall(SYS_futex) from
// JS with the address computed once: the FFI floor under the library.
import { SharedMemory } from "../shm/mod.ts";
import {
  benchName,
  buildC,
  runtime,
  track,
  untrack,
  writeResults,
} from "./_harness.ts";
import {
  failureNotes,
  failures,
  measurePingPong,
  pingPongJs,
  type PingPongScenario,
  pingPongScenarios,
  pingPongTargets,
} from "./_pingpong.ts";
import {
  type Latency,
  renderSuiteMarkdown,
  renderSuiteSvg,
  type SuiteReport,
} from "./_report.ts";

const ROUNDS = 3;
const LATENCY_TIME = 500;
const SPIN = 50;

export const SCENARIOS: PingPongScenario[] = pingPongScenarios(
  "raw libc() futex loop",
  SPIN,
  ["sync", "async"],
);

async function runJs(s: PingPongScenario): Promise<Latency> {
  const name = benchName("futex");
  SharedMemory.open(name, { create: true, exclusive: true, size: 4096 })
    .close();
  track("shm", name);
  try {
    return await pingPongJs("futex_pingpong.ts", s, [name], LATENCY_TIME);
  } finally {
    untrack(name);
  }
}

/** Runs the shm suite; C is built into `tmp`. */
export async function runShm(tmp: string): Promise<void> {
  const exe = buildC(tmp, "futex_pingpong", ["-lrt"]);
  failures.length = 0;
  const rows = await measurePingPong(exe, SCENARIOS, ROUNDS, runJs);
  const report: SuiteReport = {
    title: "Shared memory + futex ping-pong benchmark",
    suite: "shm + futex",
    runtime: runtime.name,
    version: runtime.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    method:
      `Two processes map one SharedMemory segment and take turns on a 32-bit word: store, FUTEX_WAKE the other, sleep in FUTEX_WAIT until it flips back. Both JS ends run the same runtime and mode; C (bench/c/futex_pingpong.c) is fork()ed and uses syscall(SYS_futex). Median of ${ROUNDS} interleaved rounds of each scenario's p50/p99 (tinybench, ${LATENCY_TIME} ms a round; C: all samples of 50,000 pinned or 10,000 unpinned round trips).`,
    latency: [{ title: "Round trip, µs", rows }],
    costs: [],
    targets: pingPongTargets(rows, SCENARIOS),
    notes: [
      ...failureNotes(),
      "Pinned: both processes on CPU 0 (`taskset -c 0`), so every hop is a context switch on one CPU: the mechanism's own cost. Unpinned C lands at ~7-10 µs when the scheduler keeps both on one CPU and ~50-90 µs when each hop wakes the idle vCPU (about 50 µs on this KVM guest); compare the pinned rows for the binding's cost.",
      "raw: the same loop calling libc().syscall(SYS_futex, address, ...) directly with the address computed once, no result checks: what any JS binding pays for FFI plus the syscall. sync minus raw is ipckit's own overhead (argument checks, address lookup, errno handling).",
      `spin ${SPIN} µs: each side polls the word for up to ${SPIN} µs before sleeping (C the same, reading the clock per poll), so while both run on their own CPU no hop sleeps. Not used pinned, where spinning only delays the other side.`,
      "async: futexWait registers the word with ipckit's futex helper thread (one futex_waitv for all waits), which wakes and posts a message to the main thread: every hop costs one extra thread wake-up and event-loop turn per side.",
    ],
  };
  const markdown = renderSuiteMarkdown(report);
  console.log(markdown);
  writeResults("shm", markdown, renderSuiteSvg(report));
}
