// POSIX message queue benchmark: cross-process round trip (64 B) and one-way
// throughput (8 KiB) of ipckit's MessageQueue next to a C program doing the
// same, built and run in this invocation.
//
//   deno run -A bench/run.ts     (deno task bench)
//   bun run bench/run.ts         (npm run bench)
//
// Each JS scenario runs in two fresh processes (bench/mq_client.ts measuring
// with tinybench, bench/mq_peer.ts echoing), started under `taskset -c 0`
// for the pinned placement. This runner owns every queue and process: it
// creates the queues, unlinks them and kills the processes in `finally`.
// Results go to stdout and bench/results/mq-<runtime>.{md,svg}.
import process from "node:process";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageQueue } from "../mq/mod.ts";
import {
  type Latency,
  type LatencyRow,
  renderMarkdown,
  renderSvg,
  type Report,
  type ThroughputRow,
} from "./_report.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
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
/** Longest any one child may run before it is killed as hung, ms. */
const CHILD_TIMEOUT = 60_000;

const g = globalThis as {
  Bun?: { version: string };
  Deno?: { version: { deno: string } };
};
const runtime = g.Bun
  ? { name: "bun", version: g.Bun.version }
  : { name: "deno", version: g.Deno!.version.deno };

const children = new Set<ChildProcess>();
const queues = new Set<string>();

/** The command running a TypeScript file of bench/ in this runtime. */
function script(file: string, args: (string | number)[]): string[] {
  const path = join(HERE, file);
  const rest = args.map(String);
  return runtime.name === "deno"
    ? [process.execPath, "run", "--allow-all", "--quiet", path, ...rest]
    : [process.execPath, "run", path, ...rest];
}

const pin = (pinned: boolean, cmd: string[]) =>
  pinned ? ["taskset", "-c", "0", ...cmd] : cmd;

interface Running {
  child: ChildProcess;
  /** Resolves with stdout on exit 0, rejects otherwise. */
  done: Promise<string>;
}

function start(cmd: string[]): Running {
  const child = spawn(cmd[0], cmd.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(stdout);
      else {
        reject(
          new Error(
            `${cmd.join(" ")} exited with ${code ?? signal}\n${stderr}`,
          ),
        );
      }
    });
  });
  return { child, done };
}

function stop(running: Running | undefined): Promise<void> {
  if (!running) return Promise.resolve();
  if (running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill("SIGKILL");
  }
  return running.done.then(() => {}, () => {});
}

const lastJson = <T>(stdout: string): T =>
  JSON.parse(stdout.trim().split("\n").at(-1)!) as T;

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
      queues.add(name);
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
    for (const name of names) unlinkQuietly(name);
  }
}

function unlinkQuietly(name: string): void {
  if (!queues.delete(name)) return;
  try {
    MessageQueue.unlink(name);
  } catch { /* already gone */ }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const medianLatency = (xs: Latency[]): Latency => ({
  p50: median(xs.map((x) => x.p50)),
  p99: median(xs.map((x) => x.p99)),
});

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "ipckit-bench-"));
  try {
    const exe = join(tmp, "mq_pingpong");
    execFileSync("gcc", [
      "-O2",
      "-Wall",
      "-o",
      exe,
      join(HERE, "c", "mq_pingpong.c"),
      "-lrt",
    ], { stdio: "inherit" });

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
          } µs vs C ${asyncUnpinned.c.p50.toFixed(1)} µs (${
            ratio.toFixed(2)
          }x)`,
          met: ratio <= 2,
        },
      ],
    };

    const markdown = renderMarkdown(report);
    console.log(markdown);
    const results = join(HERE, "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(join(results, `mq-${runtime.name}.md`), markdown);
    writeFileSync(join(results, `mq-${runtime.name}.svg`), renderSvg(report));
    console.error(`wrote bench/results/mq-${runtime.name}.{md,svg}`);
  } finally {
    for (const child of children) child.kill("SIGKILL");
    for (const name of [...queues]) unlinkQuietly(name);
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Ctrl-C: the finally blocks above cannot run, so clean up here.
process.on("SIGINT", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const name of [...queues]) unlinkQuietly(name);
  process.exit(130);
});

await main();
