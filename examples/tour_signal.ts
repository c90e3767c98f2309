// The tour's signal stops, and the peer operations they use: real-time
// signals with values between processes of both runtimes, the sender's pid
// seen by the receiver, and a signal ping-pong.
import process from "node:process";
import {
  sendSignal,
  type SignalDelivery,
  type SignalIterator,
  signals,
} from "../signal/mod.ts";
import {
  check,
  type PeerOp,
  percentile,
  type Runtime,
  type Stop,
  type TourModule,
} from "./_tour.ts";

/** What a receiver reports of the deliveries it took. */
interface Report {
  values: number[];
  pids: number[];
  lost: number;
}

const listeners = new Map<string, SignalIterator>();

async function take(
  it: AsyncIterator<SignalDelivery>,
  count: number,
  timeout: number,
): Promise<SignalDelivery[]> {
  const got: SignalDelivery[] = [];
  const deadline = Date.now() + timeout;
  while (got.length < count) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), deadline - Date.now());
      }),
    ]);
    clearTimeout(timer);
    if (r === "late") {
      throw new Error(`only ${got.length} of ${count} signals came in time`);
    }
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}

function report(it: SignalIterator, got: SignalDelivery[]): Report {
  return {
    values: got.map((d) => d.value ?? -1).sort((a, b) => a - b),
    pids: [...new Set(got.map((d) => d.pid ?? -1))],
    lost: it.lost,
  };
}

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Starts listening for `signal` (before anyone sends it). */
  "signal.listen": ({ signal }: { signal: string }) => {
    listeners.get(signal)?.close();
    listeners.set(signal, signals([signal as "SIGRTMIN"]));
    return Promise.resolve(process.pid);
  },

  /** Takes `count` deliveries of a signal `signal.listen` started. */
  "signal.collect": async (
    { signal, count }: { signal: string; count: number },
  ) => {
    const it = listeners.get(signal);
    if (it === undefined) throw new Error(`not listening for ${signal}`);
    try {
      return report(it, await take(it, count, 10_000));
    } finally {
      it.close();
      listeners.delete(signal);
    }
  },

  /** Queues the values 0..count-1 to `pid`. */
  "signal.send": (
    { pid, signal, count }: { pid: number; signal: string; count: number },
  ) => {
    for (let i = 0; i < count; i++) {
      sendSignal(pid, signal as "SIGRTMIN", { value: i });
    }
    return Promise.resolve(count);
  },

  /** Sends every value it receives on `signal` back to its sender. */
  "signal.echo": async (
    { signal, count }: { signal: string; count: number },
  ) => {
    const it = listeners.get(signal);
    if (it === undefined) throw new Error(`not listening for ${signal}`);
    try {
      for (let i = 0; i < count; i++) {
        const [d] = await take(it, 1, 10_000);
        sendSignal(d!.pid!, signal as "SIGRTMIN", { value: d!.value! });
      }
    } finally {
      it.close();
      listeners.delete(signal);
    }
    return count;
  },
};

// ---- stops -------------------------------------------------------------------

const VALUES = "SIGRTMIN+3";
const PING = "SIGRTMIN+4";

function values(from: Runtime | "tour", to: Runtime | "tour"): Stop {
  return {
    name: "signal/values",
    from,
    to,
    what: "200 sigqueue values arrive once each, with the sender's pid",
    async run(tour) {
      const count = 200;
      let receiverPid: number;
      let collect: () => Promise<Report>;
      if (to === "tour") {
        const it = signals([VALUES]);
        receiverPid = process.pid;
        collect = async () => {
          try {
            return report(it, await take(it, count, 10_000));
          } finally {
            it.close();
          }
        };
      } else {
        receiverPid = await tour.peer(to).call<number>("signal.listen", {
          signal: VALUES,
        });
        collect = () =>
          tour.peer(to).call<Report>("signal.collect", {
            signal: VALUES,
            count,
          }, 15_000);
      }
      const collecting = collect();
      let senderPid = process.pid;
      if (from === "tour") {
        for (let i = 0; i < count; i++) {
          sendSignal(receiverPid, VALUES, { value: i });
        }
      } else {
        senderPid = tour.peer(from).pid;
        await tour.peer(from).call("signal.send", {
          pid: receiverPid,
          signal: VALUES,
          count,
        });
      }
      const got = await collecting;
      const expected = Array.from({ length: count }, (_, i) => i);
      check(
        JSON.stringify(got.values) === JSON.stringify(expected),
        `values ${got.values.length} of ${count}, not 0..${
          count - 1
        } once each`,
      );
      check(
        got.pids.length === 1 && got.pids[0] === senderPid,
        `sender pids ${got.pids.join(", ")}, expected ${senderPid}`,
      );
      check(got.lost === 0, `${got.lost} lost`);
      return `${count} values of ${VALUES}, each once, from pid ${senderPid}`;
    },
  };
}

function pingPong(echoer: Runtime): Stop {
  return {
    name: "signal/round-trip",
    from: "tour",
    to: echoer,
    what: "sigqueue ping-pong: value out, the same value back",
    async run(tour) {
      const count = 300;
      const warmup = 30;
      const peerPid = await tour.peer(echoer).call<number>("signal.listen", {
        signal: PING,
      });
      using replies = signals([PING]);
      const echo = tour.peer(echoer).call("signal.echo", {
        signal: PING,
        count: count + warmup,
      }, 20_000);
      const times: number[] = [];
      for (let i = 0; i < count + warmup; i++) {
        const start = performance.now();
        sendSignal(peerPid, PING, { value: i });
        const [d] = await take(replies, 1, 5_000);
        check(d!.value === i, `sent ${i}, got ${d!.value} back`);
        check(d!.pid === peerPid, `reply from pid ${d!.pid}`);
        if (i >= warmup) times.push((performance.now() - start) * 1000);
      }
      await echo;
      times.sort((a, b) => a - b);
      return `${count} round trips: p50 ${
        percentile(times, 0.5).toFixed(0)
      } µs, p99 ${percentile(times, 0.99).toFixed(0)} µs`;
    },
  };
}

/** The tour's signal stops. */
export const signal: TourModule = {
  examples: [
    {
      file: "examples/signal_worker.ts",
      what:
        "jobs by real-time signal with values and sender pids; a clean stop on SIGTERM",
      run:
        "bun run examples/signal_worker.ts run, then: bun run examples/signal_worker.ts send PID 7",
    },
  ],
  stops: [
    values("deno", "bun"),
    values("bun", "deno"),
    values("tour", "deno"),
    values("bun", "tour"),
    pingPong("deno"),
    pingPong("bun"),
  ],
  ops,
};
