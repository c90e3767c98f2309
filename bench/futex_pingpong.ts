// One end of the shm suite's futex ping-pong, one scenario per process so
// the runner can start it under `taskset` from a fresh runtime:
//
//   futex_pingpong.ts <client|peer> <sync|async|raw> <shm name> <spin µs> [timeMs]
//
// Both ends map the segment the runner made and take turns on word 0
// (1: the peer's turn, 0: the client's, 2: stop), waking the other with
// futexWake. sync sleeps in futexWaitSync, async awaits futexWait, raw
// calls libc().syscall(SYS_futex) itself with the address computed once
// (the FFI floor under futexWaitSync/futexWake). With spin > 0 each side
// first polls the word for up to spin µs, as bench/c/futex_pingpong.c does.
// The client measures round trips with tinybench and prints one JSON line.
import process from "node:process";
import {
  addressOf,
  arch,
  futexWait,
  futexWaitSync,
  futexWake,
  libc,
} from "../ffi/mod.ts";
import { SharedMemory } from "../shm/mod.ts";
import { printRoundTrips } from "./_round_trip.ts";

const [role, mode, name, spinArg, timeArg] = process.argv.slice(2);
const spinMs = Number(spinArg) / 1000;
using shm = SharedMemory.open(name);
const word = shm.view(Int32Array, 0, 1);

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const address = addressOf(word);
const { syscall } = libc();

function spinWhile(value: number): void {
  if (spinMs <= 0) return;
  const end = performance.now() + spinMs;
  while (Atomics.load(word, 0) === value && performance.now() < end) {
    // poll
  }
}

let wake: () => void;
let waitWhile: (value: number) => void | Promise<void>;
if (mode === "sync") {
  wake = () => futexWake(word, 0, 1);
  waitWhile = (value) => {
    spinWhile(value);
    while (Atomics.load(word, 0) === value) futexWaitSync(word, 0, value);
  };
} else if (mode === "raw") {
  wake = () => syscall(arch().sysFutex, address, FUTEX_WAKE, 1, null, 0, 0);
  waitWhile = (value) => {
    spinWhile(value);
    while (Atomics.load(word, 0) === value) {
      syscall(arch().sysFutex, address, FUTEX_WAIT, value, null, 0, 0);
    }
  };
} else if (mode === "async") {
  wake = () => futexWake(word, 0, 1);
  waitWhile = async (value) => {
    spinWhile(value);
    while (Atomics.load(word, 0) === value) await futexWait(word, 0, value);
  };
} else {
  throw new TypeError(`Unknown mode: ${mode}`);
}

if (role === "peer") {
  for (;;) {
    await waitWhile(0);
    if (Atomics.load(word, 0) === 2) break;
    Atomics.store(word, 0, 0);
    wake();
  }
} else if (role === "client") {
  try {
    const roundTrip = mode === "async"
      ? async () => {
        Atomics.store(word, 0, 1);
        wake();
        await waitWhile(1);
      }
      : () => {
        Atomics.store(word, 0, 1);
        wake();
        waitWhile(1);
      };
    await printRoundTrips(roundTrip, mode === "async", Number(timeArg));
  } finally {
    Atomics.store(word, 0, 2);
    futexWake(word, 0, 1);
  }
} else {
  throw new TypeError(`Unknown role: ${role}`);
}
