// The measuring end of the mq benchmark, one scenario per process so that
// the runner can start it under `taskset` and every scenario starts from a
// fresh runtime:
//
//   mq_client.ts <sync|async|throughput> <request> <reply> <spin> <timeMs> [batch]
//
// The peer (bench/mq_peer.ts) is already running on the same queues. Prints
// one JSON line: latency p50/p99 in µs, or throughput in GB/s.
import process from "node:process";
import { Bench } from "tinybench";
import { MessageQueue } from "../mq/mod.ts";

const [mode, requestName, replyName, spinArg, timeArg, batchArg] = process
  .argv.slice(2);
const spin = Number(spinArg);
const time = Number(timeArg);
const batch = Number(batchArg ?? 1);

using request = MessageQueue.open(requestName, { spin });
using reply = MessageQueue.open(replyName, { spin });
const message = new Uint8Array(request.messageSize).fill(0x5a);
const buffer = new Uint8Array(reply.messageSize);

try {
  // Setup, untimed: a few round trips prove the peer is up and warm.
  if (mode !== "throughput") {
    for (let i = 0; i < 200; i++) {
      request.sendSync(message, { timeout: 30_000 });
      reply.receiveIntoSync(buffer, { timeout: 30_000 });
    }
  }

  const bench = new Bench({ time, warmupTime: 300, throws: true });
  if (mode === "sync") {
    bench.add("round trip", () => {
      request.sendSync(message);
      reply.receiveIntoSync(buffer);
    });
  } else if (mode === "async") {
    bench.add("round trip", async () => {
      await request.send(message);
      await reply.receiveInto(buffer);
    }, { async: true });
  } else if (mode === "throughput") {
    // One sample is a whole batch: per-message timing would measure the
    // clock, and the ack bounds how far the sender runs ahead.
    bench.add("batch", () => {
      for (let i = 0; i < batch; i++) request.sendSync(message);
      reply.receiveIntoSync(buffer);
    });
  } else {
    throw new TypeError(`Unknown client mode: ${mode}`);
  }
  await bench.run();

  const result = bench.tasks[0].result;
  if (!("latency" in result)) throw new Error(`Benchmark ${result.state}`);
  const { p50, p99, samplesCount } = result.latency;
  console.log(JSON.stringify(
    mode === "throughput"
      ? {
        gbps: (batch * message.length) / (p50 * 1e6),
        batches: samplesCount,
        batch,
      }
      : { p50: p50 * 1e3, p99: p99 * 1e3, samples: samplesCount },
  ));
} finally {
  // Tell the peer to stop; the runner kills it anyway if this is lost.
  request.trySend(new Uint8Array(0));
}
