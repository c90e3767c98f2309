// The tour's POSIX message queue stops, and the peer operations they use.
// The tour process creates every queue (MessageQueue.temporary(), unlinked
// when the stop ends); peers only open queues by name.
import { IpcError, MessageQueue } from "../mq/mod.ts";
import {
  check,
  type PeerOp,
  percentile,
  type Runtime,
  type Stop,
  type TourModule,
} from "./_tour.ts";

/** A message as it travels between the tour and its peers. */
interface Text {
  text: string;
  priority: number;
}

const decoder = new TextDecoder();
const created: string[] = [];

function temporaryQueue(): MessageQueue {
  const q = MessageQueue.temporary({ maxMessages: 10, messageSize: 256 });
  created.push(q.name);
  return q;
}

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Sends messages in order with the async form. */
  "mq.send": async (
    { name, messages }: { name: string; messages: Text[] },
  ) => {
    using q = MessageQueue.open(name, { access: "write" });
    for (const m of messages) {
      await q.send(m.text, { priority: m.priority, timeout: 3000 });
    }
    return messages.length;
  },

  /** Receives `count` messages with the async form. */
  "mq.receive": async (
    { name, count, timeout }: { name: string; count: number; timeout: number },
  ) => {
    using q = MessageQueue.open(name, { access: "read" });
    const got: Text[] = [];
    while (got.length < count) {
      const { data, priority } = await q.receive({ timeout });
      got.push({ text: decoder.decode(data), priority });
    }
    return got;
  },

  /** Waits on an empty queue and reports how it ended and what ran meanwhile. */
  "mq.timeout": async (
    { name, timeout }: { name: string; timeout: number },
  ) => {
    using q = MessageQueue.open(name, { access: "read" });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const start = performance.now();
    let error = "none";
    try {
      await q.receive({ timeout });
    } catch (e) {
      error = (e as Error).name;
    } finally {
      clearInterval(ticker);
    }
    return { error, elapsed: performance.now() - start, ticks };
  },

  /** Sends back every message it receives, `count` times. */
  "mq.echo": async (
    { requests, replies, count }: {
      requests: string;
      replies: string;
      count: number;
    },
  ) => {
    using rx = MessageQueue.open(requests, { access: "read" });
    using tx = MessageQueue.open(replies, { access: "write" });
    const buffer = new Uint8Array(rx.messageSize);
    for (let i = 0; i < count; i++) {
      const { length } = await rx.receiveInto(buffer, { timeout: 5000 });
      await tx.send(buffer.subarray(0, length), { timeout: 5000 });
    }
    return count;
  },

  /** Times `count` round trips through an echoing peer; µs per round trip. */
  "mq.ping": async (
    { requests, replies, count, warmup, size }: {
      requests: string;
      replies: string;
      count: number;
      warmup: number;
      size: number;
    },
  ) => {
    using tx = MessageQueue.open(requests, { access: "write" });
    using rx = MessageQueue.open(replies, { access: "read" });
    const message = new Uint8Array(size).fill(0x2a);
    const buffer = new Uint8Array(rx.messageSize);
    const times: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      const start = performance.now();
      await tx.send(message, { timeout: 5000 });
      const { length } = await rx.receiveInto(buffer, { timeout: 5000 });
      if (length !== size) throw new Error(`echo returned ${length} bytes`);
      if (i >= warmup) times.push((performance.now() - start) * 1000);
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
  },
};

// ---- stops -------------------------------------------------------------------

function crossing(from: Runtime, to: Runtime): Stop {
  return {
    name: "mq/send-receive",
    from,
    to,
    what: "3 messages arrive intact, in order, once",
    async run(tour) {
      using q = temporaryQueue();
      const sent = ["first", "second ✓", `third from ${from} → ${to}`].map((
        text,
      ) => ({ text, priority: 0 }));
      // The receiver is parked on its reactor before anything is sent.
      const receiving = tour.peer(to).call<Text[]>("mq.receive", {
        name: q.name,
        count: sent.length,
        timeout: 3000,
      });
      const sending = tour.peer(from).call("mq.send", {
        name: q.name,
        messages: sent,
      });
      const [got] = await Promise.all([receiving, sending]);
      check(
        JSON.stringify(got) === JSON.stringify(sent),
        `received ${JSON.stringify(got)}`,
      );
      check(q.attributes.currentMessages === 0, "messages left in the queue");
    },
  };
}

function priority(from: Runtime, to: Runtime): Stop {
  return {
    name: "mq/priority",
    from,
    to,
    what: "sent low (1), then high (9): high is received first",
    async run(tour) {
      using q = temporaryQueue();
      await tour.peer(from).call("mq.send", {
        name: q.name,
        messages: [{ text: "low", priority: 1 }, { text: "high", priority: 9 }],
      });
      const got = await tour.peer(to).call<Text[]>("mq.receive", {
        name: q.name,
        count: 2,
        timeout: 3000,
      });
      const order = got.map((m) => `${m.text}(${m.priority})`).join(", ");
      check(order === "high(9), low(1)", `received ${order}`);
    },
  };
}

function timeout(runtime: Runtime): Stop {
  return {
    name: "mq/timeout",
    from: "-",
    to: runtime,
    what: "receive({ timeout: 200 }) on an empty queue rejects in time",
    async run(tour) {
      using q = temporaryQueue();
      const r = await tour.peer(runtime).call<
        { error: string; elapsed: number; ticks: number }
      >("mq.timeout", { name: q.name, timeout: 200 });
      check(r.error === "TimeoutError", `ended with ${r.error}`);
      check(
        r.elapsed >= 190 && r.elapsed < 1000,
        `gave up after ${r.elapsed.toFixed(0)} ms`,
      );
      check(r.ticks >= 5, `the event loop ran only ${r.ticks} timer ticks`);
      return `receive({ timeout: 200 }) → TimeoutError in ${
        r.elapsed.toFixed(0)
      } ms, ${r.ticks} ticks ran`;
    },
  };
}

function latency(pinger: Runtime, echoer: Runtime): Stop {
  return {
    name: "mq/latency",
    from: pinger,
    to: echoer,
    what: "round trips of a 64-byte message (async send/receive)",
    async run(tour) {
      using requests = temporaryQueue();
      using replies = temporaryQueue();
      const count = 500;
      const warmup = 50;
      const names = { requests: requests.name, replies: replies.name };
      const echo = tour.peer(echoer).call("mq.echo", {
        ...names,
        count: count + warmup,
      }, 10_000);
      const ping = tour.peer(pinger).call<{ p50: number; p99: number }>(
        "mq.ping",
        { ...names, count, warmup, size: 64 },
        10_000,
      );
      const [{ p50, p99 }] = await Promise.all([ping, echo]);
      check(p50 < 5000, `median round trip ${p50.toFixed(0)} µs`);
      return `${count} round trips of 64 B: p50 ${p50.toFixed(0)} µs, p99 ${
        p99.toFixed(0)
      } µs`;
    },
  };
}

const leftovers: Stop = {
  name: "mq/cleanup",
  from: "-",
  to: "-",
  what: "every queue the tour made is gone",
  run() {
    const left: string[] = [];
    for (const name of created) {
      try {
        MessageQueue.open(name).close();
        left.push(name);
        MessageQueue.unlink(name);
      } catch (e) {
        if (!(e instanceof IpcError && e.code === "ENOENT")) throw e;
      }
    }
    check(left.length === 0, `left behind: ${left.join(", ")}`);
    return Promise.resolve(
      `all ${created.length} queues the tour made are gone (mq_open → ENOENT)`,
    );
  },
};

/** The message queue part of the tour. */
export const mq: TourModule = {
  examples: [
    {
      file: "examples/job_queue.ts",
      what:
        "a producer and workers share a queue: async receive with a timeout, back-pressure",
      run:
        "bun run examples/job_queue.ts worker & bun run examples/job_queue.ts producer 20",
    },
    {
      file: "examples/mq_receiver.ts",
      what: "the smallest pair: a receiver, and examples/mq_sender.ts",
      run:
        "bun run examples/mq_receiver.ts, then elsewhere: bun run examples/mq_sender.ts",
    },
  ],
  stops: [
    crossing("deno", "bun"),
    crossing("bun", "deno"),
    priority("deno", "bun"),
    priority("bun", "deno"),
    timeout("deno"),
    timeout("bun"),
    latency("bun", "deno"),
    latency("deno", "bun"),
    leftovers,
  ],
  ops,
};
