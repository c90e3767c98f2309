// Semaphore suite: ping-pong over two named POSIX semaphores (ipckit's
// Semaphore: waitSync()/post(), `await wait()`/post()) next to
// bench/c/sem_pingpong.c using sem_wait/sem_post; then ipckit's Mutex,
// uncontended in one process and contended by two, next to a robust
// process-shared pthread mutex in shared memory (bench/c/locks.c). The C
// programs are built and run in this invocation.
import { Semaphore } from "../sem/mod.ts";
import { SharedMemory } from "../shm/mod.ts";
import {
  benchName,
  buildC,
  lastJson,
  median,
  pin,
  runtime,
  script,
  start,
  stop,
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
  type CostRow,
  type Latency,
  renderSuiteMarkdown,
  renderSuiteSvg,
  type SuiteReport,
} from "./_report.ts";

const ROUNDS = 3;
const LATENCY_TIME = 500;
const SPIN = 50;
/** tinybench time per micro task and round, ms. */
const MICRO_TIME = 300;
/** C micro iterations (median of 20 batches). */
const C_MICRO = 2_000_000;
/** Lock/increment/unlock per process in the contended runs. */
const CONTENDED = { sync: 100_000, async: 20_000 };

const SCENARIOS: PingPongScenario[] = pingPongScenarios(
  "raw libc() sem_wait/sem_post",
  SPIN,
  ["async"],
);

async function runJs(s: PingPongScenario): Promise<Latency> {
  const names = [benchName("ping"), benchName("pong")];
  try {
    for (const name of names) {
      Semaphore.open(name, { create: true, exclusive: true, value: 0 })
        .close();
      track("sem", name);
    }
    return await pingPongJs("sem_pingpong.ts", s, names, LATENCY_TIME);
  } finally {
    for (const name of names) untrack(name);
  }
}

type Micro = Record<string, number>;

async function microJs(): Promise<Micro> {
  const name = benchName("micro");
  try {
    SharedMemory.open(name, { create: true, exclusive: true, size: 4096 })
      .close();
    track("shm", name);
    return lastJson<Micro>(
      await start(script("locks.ts", ["micro", name, MICRO_TIME])).done,
    );
  } finally {
    untrack(name);
  }
}

/** Two JS processes contend; ns per lock/increment/unlock. */
async function contendedJs(
  pinned: boolean,
  mode: "sync" | "async",
): Promise<number> {
  const name = benchName("mutex");
  const n = CONTENDED[mode];
  let shm: SharedMemory | undefined;
  const procs = [];
  try {
    shm = SharedMemory.open(name, {
      create: true,
      exclusive: true,
      size: 4096,
    });
    track("shm", name);
    for (const index of [0, 1]) {
      procs.push(
        start(
          pin(pinned, script("locks.ts", ["contended", name, n, index, mode])),
        ),
      );
    }
    await Promise.all(procs.map((p) => p.done));
    const counter = shm.view(Int32Array, 8, 1)[0];
    if (counter !== 2 * n) {
      throw new Error(`Mutex counter ${counter}, expected ${2 * n}`);
    }
    const [s0, e0, s1, e1] = shm.view(Float64Array, 16, 4);
    return ((Math.max(e0, e1) - Math.min(s0, s1)) * 1e3) / (2 * n);
  } finally {
    await Promise.all(procs.map(stop));
    shm?.close();
    untrack(name);
  }
}

async function contendedC(
  exe: string,
  pinned: boolean,
  n: number,
): Promise<number> {
  const out = await start(pin(pinned, [exe, "contended", String(n)])).done;
  return lastJson<{ nsPerOp: number }>(out).nsPerOp;
}

const CONTENDED_ROWS = [
  { label: "sync lockSync(), pinned to CPU 0", pinned: true, mode: "sync" },
  { label: "sync lockSync(), unpinned", pinned: false, mode: "sync" },
  { label: "async await lock(), unpinned", pinned: false, mode: "async" },
] as const;

/** Runs the sem suite; C is built into `tmp`. */
export async function runSem(tmp: string): Promise<void> {
  const pingpong = buildC(tmp, "sem_pingpong", ["-lpthread"]);
  const locks = buildC(tmp, "locks", ["-lpthread", "-lrt"]);
  failures.length = 0;
  const rows = await measurePingPong(pingpong, SCENARIOS, ROUNDS, runJs);

  const microRuns: { js: Micro; c: Micro }[] = [];
  const contended = CONTENDED_ROWS.map(() => ({
    js: [] as number[],
    c: [] as number[],
  }));
  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`mutex round ${round}/${ROUNDS}`);
    const c = lastJson<Micro>(
      await start([locks, "micro", String(C_MICRO)]).done,
    );
    microRuns.push({ js: await microJs(), c });
    for (const [i, row] of CONTENDED_ROWS.entries()) {
      contended[i].c.push(
        await contendedC(locks, row.pinned, CONTENDED[row.mode]),
      );
      contended[i].js.push(await contendedJs(row.pinned, row.mode));
    }
  }
  const js = (key: string) => median(microRuns.map((r) => r.js[key]));
  const c = (key: string) => median(microRuns.map((r) => r.c[key]));
  const micro: CostRow[] = [
    {
      scenario: "Mutex lockSync() + guard.unlock() vs robust pthread mutex",
      js: js("mutexSync"),
      c: c("mutex"),
    },
    {
      scenario: "Mutex await lock() + guard.unlock() vs robust pthread mutex",
      js: js("mutexAsync"),
      c: c("mutex"),
    },
    {
      scenario: "floor: Atomics CAS + exchange (the lock word by hand)",
      js: js("atomics"),
      c: c("atomics"),
    },
    {
      scenario: "floor: futexWake(), no waiter",
      js: js("futexWake"),
      c: c("futexWake"),
    },
    {
      scenario: "floor: raw libc().syscall(SYS_futex) FUTEX_WAKE, no waiter",
      js: js("rawFutexWake"),
      c: c("futexWake"),
    },
    {
      scenario: "floor: raw libc().syscall(SYS_getpid)",
      js: js("rawSyscallGetpid"),
      c: c("getpid"),
    },
    {
      scenario: "floor: libc().getpid() (i32, no arguments)",
      js: js("getpid"),
      c: c("getpid"),
    },
  ];
  const contendedRows: CostRow[] = CONTENDED_ROWS.map((row, i) => ({
    scenario: `${row.label}, ${CONTENDED[row.mode].toLocaleString("en")} each`,
    js: median(contended[i].js),
    c: median(contended[i].c),
  }));

  const report: SuiteReport = {
    title: "Semaphore and Mutex benchmark",
    suite: "sem",
    runtime: runtime.name,
    version: runtime.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    method:
      `Ping-pong: two processes, two named POSIX semaphores (the client posts ping and waits on pong, the peer the reverse); both JS ends run the same runtime and mode; C (bench/c/sem_pingpong.c) is fork()ed and uses sem_wait/sem_post. Median of ${ROUNDS} interleaved rounds of each scenario's p50/p99 (tinybench, ${LATENCY_TIME} ms a round; C: all samples of 50,000 pinned or 10,000 unpinned round trips). Mutex: ipckit's futex Mutex in a SharedMemory segment vs a robust, process-shared pthread mutex in POSIX shared memory (bench/c/locks.c); uncontended cost per pair is the median of tinybench samples of 1000 pairs (C: median of 20 batches), contended is the wall time of two processes each doing N lock/increment/unlock on a plain shared counter (checked to end at 2N) divided by 2N; median of ${ROUNDS} rounds.`,
    latency: [{ title: "Semaphore round trip, µs", rows }],
    costs: [
      {
        title: "Mutex uncontended (one process), ns per lock/unlock pair",
        rows: micro,
      },
      {
        title: "Mutex contended (two processes), ns per operation",
        rows: contendedRows,
      },
    ],
    targets: pingPongTargets(rows, SCENARIOS),
    notes: [
      ...failureNotes(),
      "Pinned: both processes on CPU 0 (`taskset -c 0`): every hop is a context switch on one CPU, the mechanism's own cost. Unpinned C lands at ~7-10 µs when the scheduler keeps both on one CPU and ~50-90 µs when each hop wakes the idle vCPU; compare the pinned rows for the binding's cost.",
      "raw: libc().sem_wait/sem_post on the sem_open pointer, no checks: the FFI floor. sync minus raw is ipckit's own overhead (waitSync tries sem_trywait first, then sem_wait; post checks the result).",
      `async: wait() tries sem_trywait, then (spin > 0 and more than one CPU allowed) retries with sched_yield for up to spin µs, then counts itself as a waiter in the sem_t and parks on its futex word in ipckit's futex helper thread, which posts a message back: one extra thread wake-up per hop. spin ${SPIN} µs rows: C spins the same way (sem_trywait + sched_yield) before sem_wait.`,
      "Mutex floors: what an FFI call costs in this runtime (getpid through the i32 binding, through the 7-argument i64 syscall binding, and FUTEX_WAKE with nobody waiting) next to the same in C; uncontended Mutex lock/unlock makes no syscall, so its cost over the Atomics floor is the library's JS (owner check, guard object).",
    ],
  };
  const markdown = renderSuiteMarkdown(report);
  console.log(markdown);
  writeResults("sem", markdown, renderSuiteSvg(report));
}
