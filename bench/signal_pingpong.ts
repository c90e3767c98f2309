// One end of the signal suite's ping-pong, one scenario per process so the
// runner can start it under `taskset` from a fresh runtime:
//
//   signal_pingpong.ts peer <ipckit|ipckit-rt|native>
//   signal_pingpong.ts client <ipckit|ipckit-rt|native> <peer pid> <timeMs>
//
// ipckit: sendSignal() with a value (sigqueue) and signals(), which gives the
// sender's pid, so the peer replies to whoever pinged it. native: the
// runtime's own process.kill() and listener (Deno.addSignalListener or
// process.on), which give neither pid nor value, so the peer is told the
// client's pid on stdin. Both use SIGUSR2; ipckit-rt is ipckit with
// SIGRTMIN+1, which no runtime listener can serve as a wake-up (the reactor
// or a native socket read does). Each end prints "ready" once it
// listens; the peer then reads the client's pid from stdin and prints
// "paired"; the client waits for "go" on stdin, measures round trips with
// tinybench and prints one JSON line.
import process from "node:process";
import { createInterface } from "node:readline";
import { sendSignal, signals } from "../signal/mod.ts";
import { printRoundTrips } from "./_round_trip.ts";

const [role, mode, peerArg, timeArg] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin });
const nextLine = (): Promise<string> =>
  new Promise((resolve) => lines.once("line", resolve));

interface DenoSignals {
  addSignalListener(signal: "SIGUSR2", handler: () => void): void;
}

/** The runtime's own listener for SIGUSR2. */
function listenNatively(handler: () => void): void {
  const deno = (globalThis as { Deno?: DenoSignals }).Deno;
  if (deno !== undefined) deno.addSignalListener("SIGUSR2", handler);
  else process.on("SIGUSR2", handler);
}

if (mode !== "ipckit" && mode !== "ipckit-rt" && mode !== "native") {
  throw new TypeError(`Unknown mode: ${mode}`);
}
const SIGNAL = mode === "ipckit-rt" ? "SIGRTMIN+1" : "SIGUSR2";

if (role === "peer") {
  if (mode !== "native") {
    const it = signals([SIGNAL]);
    console.log("ready");
    await nextLine(); // the client's pid: not needed, si_pid tells
    console.log("paired");
    for await (const d of it) {
      sendSignal(d.pid!, SIGNAL, { value: d.value ?? 0 });
    }
  } else {
    let client = 0;
    listenNatively(() => process.kill(client, "SIGUSR2"));
    console.log("ready");
    client = Number(await nextLine());
    console.log("paired");
    setInterval(() => {}, 1 << 30); // stay until killed
  }
} else if (role === "client") {
  const peer = Number(peerArg);
  let roundTrip: () => Promise<void>;
  if (mode !== "native") {
    const it = signals([SIGNAL]);
    let i = 0;
    roundTrip = async () => {
      i = (i + 1) & 0x7fffffff;
      sendSignal(peer, SIGNAL, { value: i });
      const r = await it.next();
      if (r.value?.value !== i) {
        throw new Error(`sent ${i}, got ${r.value?.value} back`);
      }
    };
  } else {
    let wake: () => void = () => {};
    listenNatively(() => wake());
    roundTrip = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        process.kill(peer, "SIGUSR2");
      });
  }
  console.log(`ready ${process.pid}`);
  await nextLine(); // go
  lines.close();
  await printRoundTrips(roundTrip, true, Number(timeArg));
  process.exit(0);
} else {
  throw new TypeError(`Unknown role: ${role}`);
}
