// One end of the sem suite's semaphore ping-pong, one scenario per process
// so the runner can start it under `taskset` from a fresh runtime:
//
//   sem_pingpong.ts <client|peer> <sync|async|raw> <ping> <pong> <spin µs> [timeMs]
//
// The client posts `ping` and waits on `pong`; the peer waits on `ping` and
// posts `pong` until the runner kills it. sync uses waitSync()/post(),
// async `await wait()`/post() with Semaphore's own `spin` option (sem_trywait
// with sched_yield for up to spin µs, as bench/c/sem_pingpong.c does), raw
// calls libc().sem_wait/sem_post on the sem_open pointer (the FFI floor).
// The client measures round trips with tinybench and prints one JSON line.
import process from "node:process";
import { libc, validatePosixName } from "../ffi/mod.ts";
import { Semaphore } from "../sem/mod.ts";
import { printRoundTrips } from "./_round_trip.ts";

const [role, mode, pingName, pongName, spinArg, timeArg] = process.argv
  .slice(2);
const spin = Number(spinArg);
using ping = Semaphore.open(pingName, { spin });
using pong = Semaphore.open(pongName, { spin });

let post: (s: "ping" | "pong") => void;
let wait: (s: "ping" | "pong") => void | Promise<void>;
if (mode === "sync") {
  const sems = { ping, pong };
  post = (s) => sems[s].post();
  wait = (s) => sems[s].waitSync();
} else if (mode === "async") {
  const sems = { ping, pong };
  post = (s) => sems[s].post();
  wait = (s) => sems[s].wait();
} else if (mode === "raw") {
  const open = (name: string) =>
    libc().sem_open(validatePosixName(name, "semaphore", 251), 0, 0, 0);
  const sems = { ping: open(pingName), pong: open(pongName) };
  const { sem_post, sem_wait } = libc();
  post = (s) => void sem_post(sems[s]);
  wait = (s) => {
    while (sem_wait(sems[s]) !== 0) { /* EINTR */ }
  };
} else {
  throw new TypeError(`Unknown mode: ${mode}`);
}

if (role === "peer") {
  for (;;) {
    await wait("ping");
    post("pong");
  }
} else if (role === "client") {
  const roundTrip = mode === "async"
    ? async () => {
      post("ping");
      await wait("pong");
    }
    : () => {
      post("ping");
      wait("pong");
    };
  await printRoundTrips(roundTrip, mode === "async", Number(timeArg));
} else {
  throw new TypeError(`Unknown role: ${role}`);
}
