// POSIX message queue suite: cross-process round trip (64 B) and one-way
// throughput (8 KiB) of ipckit's MessageQueue next to a C program doing the
// same (bench/c/mq_pingpong.c), built and run in this invocation.
//
// Each JS scenario runs in two fresh processes (bench/mq_client.ts measuring
// with tinybench, bench/mq_peer.ts echoing), started under `taskset -c 0`
// for the pinned placement. The queues are created here and tracked by the
// harness, which unlinks them and kills the processes even on error.
import { MessageQueue } from "../mq/mod.ts";
import {
  type Latency,
  type LatencyRow,
  renderMarkdown,
  renderSvg,
  type Report,
  type ThroughputRow,
} from "./_report.ts";
import {
  buildC,
  lastJson,
  median,
  medianLatency,
  pin,
  type Running,
  runtime,
  script,
  start,
  stop,
  track,
  untrack,
  writeResults,
} from "./_harness.ts";

/**
 * Interleaved rounds per latency scenario: p50 drifts by a few µs from run
 * to run here (scheduler placement), so report the median of rounds.
 */
const ROUNDS = 5;
/** Rounds of the throughput scenarios, which drift less. */
const THROUGHPUT_ROUNDS = 3;
/** tinybench time budget per latency round, ms. */
const LATENCY_TIME = 600;
/** tinybench time budget per throughput round, ms. */
const THROUGHPUT_TIME = 1000;
/** Messages per throughput sample (C uses the same, see mq_pingpong.c). */
const BATCH = 1000;

/** Runs a C mode to completion. */
async function runC<T>(
  exe: string,
  pinned: boolean,
  mode: string,
  count: number,
  bytes: number,
): Promise<T> {
  return lastJson<T>(
    await start(pin(pinned, [exe, mode, count, bytes].map(String))).done,
  );
}

interface JsScenario {
  client: "sync" | "async" | "throughput";
  peer: "echo-sync" | "echo-async" | "sink";
  pinned: boolean;
  spin: number;
  messageSize: number;
}

/** Runs one JS scenario: fresh queues, a peer, a measuring client. */
async function runJs<T>(s: JsScenario): Promise<T> {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  const names = [`/ipckit_bench_${id}_req`, `/ipckit_bench_${id}_rep`];
  let peer: Running | undefined;
  let client: Running | undefined;
  try {
    for (const name of names) {
      MessageQueue.open(name, {
        create: true,
        exclusive: true,
        maxMessages: 10,
        messageSize: s.messageSize,
      }).close();
      // Only once created: never unlink a queue this run did not make.
      track("mq", name);
    }
    const peerExtra = s.peer === "sink" ? BATCH : s.spin;
    peer = start(
      pin(s.pinned, script("mq_peer.ts", [s.peer, ...names, peerExtra])),
    );
    const time = s.client === "throughput" ? THROUGHPUT_TIME : LATENCY_TIME;
    client = start(
      pin(
        s.pinned,
        script("mq_client.ts", [s.client, ...names, s.spin, time, BATCH]),
      ),
    );
    // A peer that fails would leave the client waiting: fail at once. (It
    // exits 0 when the client's stop message beats the client's own exit.)
    const peerFailed = peer.done.then(() => new Promise<never>(() => {}));
    peerFailed.catch(() => {});
    return lastJson<T>(await Promise.race([client.done, peerFailed]));
  } finally {
    await Promise.all([stop(client), stop(peer)]);
    for (const name of names) untrack(name);
  }
}

/** Runs the mq suite; C is built into `tmp`. */
export async function runMq(tmp: string): Promise<void> {
  const exe = buildC(tmp, "mq_pingpong", ["-lrt"]);

  const cLat: Record<string, Latency[]> = { pinned: [], unpinned: [] };
  const js: Record<string, Latency[]> = {};
  const scenarios: [string, JsScenario][] = [
    ["sync, pinned to CPU 0", {
      client: "sync",
      peer: "echo-sync",
      pinned: true,
      spin: 0,
      messageSize: 64,
    }],
    ["sync, unpinned", {
      client: "sync",
      peer: "echo-sync",
      pinned: false,
      spin: 0,
      messageSize: 64,
    }],
    ["async, unpinned, spin 50 µs", {
      client: "async",
      peer: "echo-async",
      pinned: false,
      spin: 50,
      messageSize: 64,
    }],
    ["async, unpinned, spin 0", {
      client: "async",
      peer: "echo-async",
      pinned: false,
      spin: 0,
      messageSize: 64,
    }],
  ];
  const cTput: Record<string, number[]> = { pinned: [], unpinned: [] };
  const jsTput: Record<string, number[]> = { pinned: [], unpinned: [] };

  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`round ${round}/${ROUNDS}`);
    cLat.pinned.push(await runC(exe, true, "latency", 50_000, 64));
    cLat.unpinned.push(await runC(exe, false, "latency", 20_000, 64));
    for (const [label, s] of scenarios) {
      (js[label] ??= []).push(await runJs<Latency>(s));
    }
    if (round > THROUGHPUT_ROUNDS) continue;
    for (const pinned of [true, false]) {
      const key = pinned ? "pinned" : "unpinned";
      cTput[key].push(
        (await runC<{ gbps: number }>(exe, pinned, "throughput", 150, 8192))
          .gbps,
      );
      jsTput[key].push(
        (await runJs<{ gbps: number }>({
          client: "throughput",
          peer: "sink",
          pinned,
          spin: 0,
          messageSize: 8192,
        })).gbps,
      );
    }
  }

  const cPinned = medianLatency(cLat.pinned);
  const cUnpinned = medianLatency(cLat.unpinned);
  const latency: LatencyRow[] = scenarios.map(([label, s]) => ({
    scenario: label,
    js: medianLatency(js[label]),
    c: s.pinned ? cPinned : cUnpinned,
    baseline: s.pinned ? "pinned" : "unpinned",
  }));
  const throughput: ThroughputRow[] = [
    {
      placement: "pinned to CPU 0",
      js: median(jsTput.pinned),
      c: median(cTput.pinned),
    },
    {
      placement: "unpinned",
      js: median(jsTput.unpinned),
      c: median(cTput.unpinned),
    },
  ];

  const syncPinned = latency[0];
  const asyncUnpinned = latency[2];
  const diff = syncPinned.js.p50 - syncPinned.c.p50;
  const ratio = asyncUnpinned.js.p50 / asyncUnpinned.c.p50;
  const report: Report = {
    runtime: runtime.name,
    version: runtime.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    rounds: ROUNDS,
    throughputRounds: THROUGHPUT_ROUNDS,
    latency,
    throughput,
    targets: [
      {
        text: `sync pinned p50 within 1 µs of C: JS ${
          syncPinned.js.p50.toFixed(1)
        } µs vs C ${syncPinned.c.p50.toFixed(1)} µs (${diff >= 0 ? "+" : ""}${
          diff.toFixed(1)
        } µs)`,
        met: diff <= 1,
      },
      {
        text: `async unpinned p50 within 2x of C unpinned: JS ${
          asyncUnpinned.js.p50.toFixed(1)
        } µs vs C ${asyncUnpinned.c.p50.toFixed(1)} µs (${ratio.toFixed(2)}x)`,
        met: ratio <= 2,
      },
    ],
  };

  const markdown = renderMarkdown(report);
  console.log(markdown);
  writeResults("mq", markdown, renderSvg(report));
}
