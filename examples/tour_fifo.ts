// The tour's FIFO stops, and the peer operations they use. The tour process
// makes every FIFO (in a fresh directory, removed when the tour ends);
// peers only open them by path.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFifo, openFifo, removeFifo } from "../fifo/mod.ts";
import {
  check,
  type PeerOp,
  type Runtime,
  type Stop,
  type TourContext,
  type TourModule,
} from "./_tour.ts";

let dir: string | undefined;
const made: string[] = [];

function fifoPath(tour: TourContext, tag: string): string {
  if (dir === undefined) {
    const created = dir = mkdtempSync(join(tmpdir(), "ipckit-tour-fifo-"));
    tour.defer(() => rmSync(created, { recursive: true, force: true }));
  }
  const path = join(dir, `${tag}-${made.length}.fifo`);
  createFifo(path);
  made.push(path);
  return path;
}

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Writes "line <i>" for i < count, then closes (the reader's EOF). */
  "fifo.write": async ({ path, count }: { path: string; count: number }) => {
    await using writer = await openFifo(path, "write", { timeout: 4000 });
    for (let i = 0; i < count; i++) await writer.write(`line ${i}\n`);
    return count;
  },

  /** Reads to EOF; returns how many lines came, and the first out of order. */
  "fifo.read": async ({ path }: { path: string }) => {
    await using reader = await openFifo(path, "read", { timeout: 4000 });
    const lines = (await new Response(reader.readable).text()).split("\n");
    lines.pop();
    const wrong = lines.findIndex((line, i) => line !== `line ${i}`);
    return { count: lines.length, wrong };
  },

  /** Opens for writing with nobody reading: how it ended, and the ticks. */
  "fifo.lonely": async ({ path }: { path: string }) => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const start = performance.now();
    let error = "none";
    try {
      (await openFifo(path, "write", { timeout: 200 })).close();
    } catch (e) {
      error = (e as Error).name;
    } finally {
      clearInterval(ticker);
    }
    return { error, elapsed: performance.now() - start, ticks };
  },
};

// ---- stops -------------------------------------------------------------------

function lines(from: Runtime, to: Runtime): Stop {
  return {
    name: "fifo/lines",
    from,
    to,
    what: "1,000 lines through a FIFO, in order, then EOF",
    async run(tour) {
      const path = fifoPath(tour, "lines");
      const reading = tour.peer(to).call<{ count: number; wrong: number }>(
        "fifo.read",
        { path },
      );
      await tour.peer(from).call("fifo.write", { path, count: 1000 });
      const got = await reading;
      check(got.count === 1000, `${got.count} lines arrived`);
      check(got.wrong === -1, `line ${got.wrong} out of order`);
    },
  };
}

function lonely(runtime: Runtime): Stop {
  return {
    name: "fifo/no-reader",
    from: runtime,
    to: "-",
    what:
      'openFifo(path, "write", { timeout: 200 }) with no reader rejects in time',
    async run(tour) {
      const r = await tour.peer(runtime).call<
        { error: string; elapsed: number; ticks: number }
      >("fifo.lonely", { path: fifoPath(tour, "lonely") });
      check(r.error === "TimeoutError", `ended with ${r.error}`);
      check(r.elapsed >= 190 && r.elapsed < 1000, `after ${r.elapsed} ms`);
      check(r.ticks >= 5, `the event loop ran only ${r.ticks} timer ticks`);
      return `no reader → TimeoutError in ${
        r.elapsed.toFixed(0)
      } ms, ${r.ticks} ticks ran`;
    },
  };
}

const leftovers: Stop = {
  name: "fifo/cleanup",
  from: "-",
  to: "-",
  what: "every FIFO the tour made is removed",
  run() {
    for (const path of made.splice(0)) removeFifo(path);
    if (dir !== undefined) rmSync(dir, { recursive: true });
    dir = undefined;
    return Promise.resolve();
  },
};

/** The FIFO part of the tour. */
export const fifo: TourModule = {
  examples: [
    {
      file: "fifo/README.md",
      what: "a named pipe between two programs: runnable reader and writer",
    },
  ],
  stops: [
    lines("deno", "bun"),
    lines("bun", "deno"),
    lonely("deno"),
    lonely("bun"),
    leftovers,
  ],
  ops,
};
