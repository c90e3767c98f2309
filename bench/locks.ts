// The JavaScript side of the sem suite's Mutex part, one measurement per
// process (fresh runtime, startable under `taskset`):
//
//   locks.ts micro <shm name> <timeMs>
//       one process, uncontended: ns per Mutex lock/unlock pair (sync and
//       async), and the floors under it (the same atomics by hand,
//       futexWake with no waiter, raw libc() calls). A tinybench sample is
//       a batch of 1000 operations.
//   locks.ts contended <shm name> <n> <index 0|1> <sync|async>
//       one of two processes taking the Mutex at offset 0 (8 bytes) n times
//       to increment the plain Int32 counter at offset 8; both start at a
//       barrier (word at offset 12) and record CLOCK_MONOTONIC start and end
//       (µs) as Float64 at byte 16 + 8 * (2 * index + 0 / 1).
//
// Prints one JSON line (micro) or nothing (contended: the runner reads the
// segment).
import process from "node:process";
import { Bench } from "tinybench";
import { addressOf, arch, futexWake, libc } from "../ffi/mod.ts";
import { SharedMemory } from "../shm/mod.ts";
import { Mutex } from "../sem/mod.ts";

const BATCH = 1000;
const FUTEX_WAKE = 1;
const SYS_GETPID = arch().sysFutex === 202 ? 39 : 172;

const [mode, name, ...rest] = process.argv.slice(2);
using shm = SharedMemory.open(name);

const ts = new BigInt64Array(2);
const monotonicUs = () => {
  libc().clock_gettime(1, ts);
  return Number(ts[0]) * 1e6 + Number(ts[1]) / 1e3;
};

if (mode === "micro") {
  const mutex = Mutex.init(shm.buffer, 0);
  const word = shm.view(Int32Array, 64, 1);
  const address = addressOf(word);
  const { syscall, getpid } = libc();
  const bench = new Bench({
    time: Number(rest[0]),
    warmupTime: 200,
    throws: true,
  });
  bench
    .add("mutexSync", () => {
      for (let i = 0; i < BATCH; i++) mutex.lockSync().unlock();
    })
    .add("mutexAsync", async () => {
      for (let i = 0; i < BATCH; i++) (await mutex.lock()).unlock();
    }, { async: true })
    .add("atomics", () => {
      for (let i = 0; i < BATCH; i++) {
        Atomics.compareExchange(word, 0, 0, 1);
        Atomics.exchange(word, 0, 0);
      }
    })
    .add("futexWake", () => {
      for (let i = 0; i < BATCH; i++) futexWake(word, 0, 1);
    })
    .add("rawFutexWake", () => {
      for (let i = 0; i < BATCH; i++) {
        syscall(arch().sysFutex, address, FUTEX_WAKE, 1, null, 0, 0);
      }
    })
    .add("rawSyscallGetpid", () => {
      for (let i = 0; i < BATCH; i++) syscall(SYS_GETPID, 0, 0, 0, null, 0, 0);
    })
    .add("getpid", () => {
      for (let i = 0; i < BATCH; i++) getpid();
    });
  await bench.run();
  const out: Record<string, number> = {};
  for (const task of bench.tasks) {
    const result = task.result;
    if (!("latency" in result)) throw new Error(`Benchmark ${result.state}`);
    out[task.name] = (result.latency.p50 * 1e6) / BATCH; // ns per op
  }
  console.log(JSON.stringify(out));
} else if (mode === "contended") {
  const n = Number(rest[0]);
  const index = Number(rest[1]);
  const async = rest[2] === "async";
  const mutex = Mutex.at(shm.buffer, 0);
  const counter = shm.view(Int32Array, 8, 1);
  const ready = shm.view(Int32Array, 12, 1);
  const times = shm.view(Float64Array, 16, 4);
  // Warm up on a private mutex of the same segment, then meet the other.
  const warm = Mutex.init(shm.buffer, 64 + 8 * index);
  for (let i = 0; i < 20_000; i++) {
    if (async) (await warm.lock()).unlock();
    else warm.lockSync().unlock();
  }
  Atomics.add(ready, 0, 1);
  while (Atomics.load(ready, 0) < 2) libc().sched_yield();
  times[2 * index] = monotonicUs();
  if (async) {
    for (let i = 0; i < n; i++) {
      const guard = await mutex.lock();
      counter[0] = counter[0] + 1;
      guard.unlock();
    }
  } else {
    for (let i = 0; i < n; i++) {
      const guard = mutex.lockSync();
      counter[0] = counter[0] + 1;
      guard.unlock();
    }
  }
  times[2 * index + 1] = monotonicUs();
} else {
  throw new TypeError(`Unknown mode: ${mode}`);
}
