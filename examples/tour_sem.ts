// The tour's semaphore stops, and the peer operations they use. The tour
// process creates every semaphore (Semaphore.temporary(), unlinked when the
// stop ends); peers only open them by name.
import { Semaphore } from "../sem/mod.ts";
import {
  check,
  type PeerOp,
  percentile,
  type Runtime,
  type Stop,
  type TourModule,
} from "./_tour.ts";

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Waits on `ping` and posts `pong`, `count` times (async wait). */
  "sem.pong": async (
    { ping, pong, count }: { ping: string; pong: string; count: number },
  ) => {
    using a = Semaphore.open(ping);
    using b = Semaphore.open(pong);
    for (let i = 0; i < count; i++) {
      await a.wait({ timeout: 5000 });
      b.post();
    }
    return count;
  },

  /** Posts `ping`, waits on `pong`; µs per round trip. */
  "sem.ping": async (
    { ping, pong, count, warmup }: {
      ping: string;
      pong: string;
      count: number;
      warmup: number;
    },
  ) => {
    using a = Semaphore.open(ping);
    using b = Semaphore.open(pong);
    const times: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      const start = performance.now();
      a.post();
      await b.wait({ timeout: 5000 });
      if (i >= warmup) times.push((performance.now() - start) * 1000);
    }
    times.sort((x, y) => x - y);
    return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
  },
};

// ---- stops -------------------------------------------------------------------

function pingPong(pinger: Runtime, ponger: Runtime): Stop {
  return {
    name: "sem/ping-pong",
    from: pinger,
    to: ponger,
    what: "round trips through two named semaphores (async wait)",
    async run(tour) {
      using ping = Semaphore.temporary();
      using pong = Semaphore.temporary();
      const count = 500;
      const warmup = 50;
      const names = { ping: ping.name!, pong: pong.name! };
      const answer = tour.peer(ponger).call("sem.pong", {
        ...names,
        count: count + warmup,
      }, 10_000);
      const timing = tour.peer(pinger).call<{ p50: number; p99: number }>(
        "sem.ping",
        { ...names, count, warmup },
        10_000,
      );
      const [{ p50, p99 }] = await Promise.all([timing, answer]);
      check(ping.value === 0 && pong.value === 0, "posts left over");
      return `${count} round trips: p50 ${p50.toFixed(0)} µs, p99 ${
        p99.toFixed(0)
      } µs`;
    },
  };
}

/** The semaphore part of the tour. */
export const sem: TourModule = {
  examples: [
    {
      file: "examples/resource_pool.ts",
      what:
        "a pool of permits on a named semaphore; waits cancelled by an AbortSignal",
      run: "bun run examples/resource_pool.ts use 5000",
    },
    {
      file: "examples/resource_pool_undo.ts",
      what:
        "the same pool with System V undo: a killed holder's permit comes back",
      run: "bun run examples/resource_pool_undo.ts use 5000",
    },
  ],
  stops: [pingPong("deno", "bun"), pingPong("bun", "deno")],
  ops,
};
