// Socket suite: 64 B round trips over Unix stream, seqpacket and datagram
// sockets, TCP and UDP, and stream throughput over Unix stream and TCP, of
// ipckit's socket/ module (sync and async) next to the runtime's own sockets
// (Deno.connect or Bun.connect, and node:net / node:dgram) and next to
// bench/c/socket_pingpong.c doing the same with blocking calls, all built
// and run in this invocation, rounds interleaved.
//
// Each JS scenario runs in two fresh processes (bench/socket_bench.ts as
// echo or sink peer, then as measuring client), both under `taskset -c 0`
// for the pinned placement. Unix socket files live in the run's temporary
// directory, which run.ts removes.
import { join } from "node:path";
import process from "node:process";
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
  writeResults,
} from "./_harness.ts";
import {
  type Latency,
  type LatencyRow,
  type LatencySection,
  renderSuiteMarkdown,
  renderSuiteSvg,
  type SuiteReport,
  type Target,
} from "./_report.ts";

const ROUNDS = 3;
const THROUGHPUT_ROUNDS = 3;
/** tinybench time budget per latency round, ms. */
const LATENCY_TIME = 500;
/** tinybench time budget per throughput round, ms. */
const THROUGHPUT_TIME = 1000;
const MESSAGE = 64;
/** Bytes per write in the throughput scenarios (C writes the same). */
const CHUNK = 65536;
/** C round trips per run: pinned hops are fast, unpinned ones slower. */
const C_COUNT = { pinned: 50_000, unpinned: 10_000 };
const C_BATCHES = 30;

type Transport =
  | "unix-stream"
  | "unix-seqpacket"
  | "unix-dgram"
  | "tcp"
  | "udp";
type Impl = "sync" | "async" | "native" | "node" | "framed" | "rpc";

const TRANSPORTS: Transport[] = [
  "unix-stream",
  "unix-seqpacket",
  "unix-dgram",
  "tcp",
  "udp",
];
const STREAMS: Transport[] = ["unix-stream", "tcp"];

/** The runtime's own socket API, by name. */
const NATIVE = runtime.name === "deno" ? "Deno.connect" : "Bun.connect";

/** Which non-ipckit implementations exist for a transport. */
function nativeImpls(t: Transport): Impl[] {
  if (t === "unix-stream" || t === "tcp") return ["native", "node"];
  if (t === "udp") return ["node"];
  return [];
}

function implName(impl: Impl, t: Transport): string {
  switch (impl) {
    case "sync":
      return "ipckit sync";
    case "async":
      return "ipckit async";
    case "native":
      return NATIVE;
    case "node":
      return t === "udp" ? "node:dgram" : "node:net";
    case "framed":
      return "ipckit framed()";
    case "rpc":
      return "ipckit RpcClient.call()";
  }
}

interface Scenario {
  transport: Transport;
  impl: Impl;
  pinned: boolean;
}

const label = (s: Scenario) =>
  `${implName(s.impl, s.transport)}, ${s.pinned ? "pinned" : "unpinned"}`;

/** Failures of JS scenarios, reported in the notes. */
const failures: string[] = [];

let counter = 0;

/**
 * Starts a peer and resolves with it and the port it printed ("ready
 * <port>"), or rejects when it exits first.
 */
function startPeer(cmd: string[]): Promise<[Running, string]> {
  const peer = start(cmd);
  return new Promise((resolve, reject) => {
    let out = "";
    peer.child.stdout!.on("data", (d: Buffer | string) => {
      out += String(d);
      const m = /^ready (\d+)$/m.exec(out);
      if (m) resolve([peer, m[1]!]);
    });
    peer.done.then(
      () => reject(new Error(`peer ${cmd.join(" ")} exited before ready`)),
      reject,
    );
  });
}

/** Runs one JS scenario: a fresh peer, then the measuring client. */
async function runJs<T>(
  tmp: string,
  s: Scenario,
  kind: "latency" | "throughput",
): Promise<T> {
  const unix = s.transport.startsWith("unix-");
  const path = join(tmp, `s${process.pid}-${++counter}.sock`);
  let peer: Running | undefined;
  let client: Running | undefined;
  try {
    const [started, port] = await startPeer(
      pin(
        s.pinned,
        script("socket_bench.ts", [
          "peer",
          s.impl,
          s.transport,
          unix ? path : "0",
          kind === "latency" ? "echo" : "sink",
        ]),
      ),
    );
    peer = started;
    client = start(
      pin(
        s.pinned,
        script("socket_bench.ts", [
          "client",
          s.impl,
          s.transport,
          unix ? path : port,
          kind,
          kind === "latency" ? LATENCY_TIME : THROUGHPUT_TIME,
          kind === "latency" ? MESSAGE : CHUNK,
        ]),
      ),
    );
    const peerFailed = peer.done.then(() => new Promise<never>(() => {}));
    peerFailed.catch(() => {});
    return lastJson<T>(await Promise.race([client.done, peerFailed]));
  } finally {
    await Promise.all([stop(client), stop(peer)]);
  }
}

/** One try, and one more; `undefined` (and a note) when both fail. */
async function retried<T>(
  what: string,
  run: () => Promise<T>,
): Promise<T | undefined> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt === 2) {
        failures.push(`${what}: ${String(error).split("\n")[0]}`);
      }
    }
  }
  return undefined;
}

async function runC<T>(
  exe: string,
  pinned: boolean,
  args: (string | number)[],
): Promise<T> {
  return lastJson<T>(await start(pin(pinned, [exe, ...args.map(String)])).done);
}

const NONE: Latency = { p50: NaN, p99: NaN };
const push = <T>(map: Map<string, T[]>, key: string, value: T | undefined) => {
  if (value !== undefined) map.set(key, [...(map.get(key) ?? []), value]);
};

/** Runs the socket suite; C is built into `tmp`. */
export async function runSocket(tmp: string): Promise<void> {
  failures.length = 0;
  const exe = buildC(tmp, "socket_pingpong", []);

  const latencyScenarios: Scenario[] = TRANSPORTS.flatMap((transport) => [
    { transport, impl: "sync" as Impl, pinned: true },
    { transport, impl: "async" as Impl, pinned: true },
    { transport, impl: "async" as Impl, pinned: false },
    ...nativeImpls(transport).flatMap((impl) => [
      { transport, impl, pinned: true },
      { transport, impl, pinned: false },
    ]),
    ...(STREAMS.includes(transport) ? ["framed", "rpc"] as Impl[] : [])
      .flatMap((impl) => [
        { transport, impl, pinned: true },
        { transport, impl, pinned: false },
      ]),
  ]);
  const throughputScenarios: Scenario[] = STREAMS.flatMap((transport) =>
    (["sync", "async", "native", "node"] as Impl[]).map((impl) => ({
      transport,
      impl,
      pinned: false,
    }))
  );

  const cLat = new Map<string, Latency[]>();
  const jsLat = new Map<string, Latency[]>();
  const cTput = new Map<string, number[]>();
  const jsTput = new Map<string, number[]>();
  const key = (s: Scenario) => `${s.transport}|${label(s)}`;

  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`round ${round}/${ROUNDS}`);
    for (const t of TRANSPORTS) {
      for (const pinned of [true, false]) {
        const count = pinned ? C_COUNT.pinned : C_COUNT.unpinned;
        push(
          cLat,
          `${t}|${pinned}`,
          await retried(
            `C ${t}`,
            () => runC<Latency>(exe, pinned, ["latency", t, count, MESSAGE]),
          ),
        );
      }
    }
    for (const s of latencyScenarios) {
      push(
        jsLat,
        key(s),
        await retried(
          `${s.transport} ${label(s)}`,
          () => runJs<Latency>(tmp, s, "latency"),
        ),
      );
    }
    if (round > THROUGHPUT_ROUNDS) continue;
    for (const t of STREAMS) {
      push(
        cTput,
        t,
        (await retried(
          `C ${t} throughput`,
          () =>
            runC<{ gbps: number }>(exe, false, [
              "throughput",
              t,
              C_BATCHES,
              CHUNK,
            ]),
        ))?.gbps,
      );
    }
    for (const s of throughputScenarios) {
      push(
        jsTput,
        key(s),
        (await retried(
          `${s.transport} ${label(s)} throughput`,
          () => runJs<{ gbps: number }>(tmp, s, "throughput"),
        ))?.gbps,
      );
    }
  }

  const cOf = (t: Transport, pinned: boolean) => {
    const all = cLat.get(`${t}|${pinned}`);
    return all ? medianLatency(all) : NONE;
  };
  const jsOf = (s: Scenario) => {
    const all = jsLat.get(key(s));
    return all ? medianLatency(all) : NONE;
  };
  const latency: LatencySection[] = TRANSPORTS.map((t) => ({
    title: `${t}: 64 B round trip (µs)`,
    rows: latencyScenarios.filter((s) => s.transport === t).map(
      (s): LatencyRow => ({
        scenario: label(s),
        js: jsOf(s),
        c: cOf(t, s.pinned),
        baseline: s.pinned ? "pinned" : "unpinned",
      }),
    ),
  }));

  const targets: Target[] = [];
  const f = (n: number) => n.toFixed(1);
  for (const t of TRANSPORTS) {
    const sync = jsOf({ transport: t, impl: "sync", pinned: true });
    const c = cOf(t, true);
    const diff = sync.p50 - c.p50;
    targets.push({
      text: `${t}: sync pinned p50 within 1 µs of C: ${f(sync.p50)} µs vs C ${
        f(c.p50)
      } µs (${diff >= 0 ? "+" : ""}${f(diff)} µs)`,
      met: diff <= 1,
    });
    const own = t === "udp" ? "node" : "native";
    if (!nativeImpls(t).includes(own)) continue;
    for (const pinned of [true, false]) {
      const ours = jsOf({ transport: t, impl: "async", pinned });
      const theirs = jsOf({ transport: t, impl: own, pinned });
      targets.push({
        text: `${t}: async ${
          pinned ? "pinned" : "unpinned"
        } p50 no slower than ${implName(own, t)}: ${f(ours.p50)} µs vs ${
          f(theirs.p50)
        } µs (${(ours.p50 / theirs.p50).toFixed(2)}x)`,
        met: ours.p50 <= theirs.p50,
      });
    }
  }
  const throughputLines = [
    "## Stream throughput, unpinned (GB/s, 64 KiB writes, 8 MiB batches)",
    "",
    "| transport | implementation | GB/s | C GB/s | of C |",
    "|---|---|---:|---:|---:|",
  ];
  for (const t of STREAMS) {
    const c = median(cTput.get(t) ?? [NaN]);
    for (const s of throughputScenarios.filter((s) => s.transport === t)) {
      const js = median(jsTput.get(key(s)) ?? [NaN]);
      throughputLines.push(
        `| ${t} | ${implName(s.impl, t)} | ${js.toFixed(2)} | ${
          c.toFixed(2)
        } | ${((js / c) * 100).toFixed(0)}% |`,
      );
      if (s.impl === "sync" || s.impl === "async") {
        targets.push({
          text: `${t}: ${implName(s.impl, t)} throughput at least 80% of C: ${
            js.toFixed(2)
          } vs ${c.toFixed(2)} GB/s (${((js / c) * 100).toFixed(0)}%)`,
          met: js >= 0.8 * c,
        });
      }
    }
  }
  throughputLines.push("");

  const report: SuiteReport = {
    title: "Socket benchmark",
    suite: "socket",
    runtime: runtime.name,
    version: runtime.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    method:
      `Round trips of ${MESSAGE} B between two processes (an echo peer and a measuring client, tinybench, median of ${ROUNDS} rounds), ` +
      `for ipckit's socket/ module (sync: writeSync/readSync, sendSync/receiveSync; async: write/read, send/receive), ` +
      `${NATIVE} and node:net / node:dgram in the same runtime, and bench/c/socket_pingpong.c (blocking read/write over socketpair(2), ` +
      `TCP and UDP over 127.0.0.1), pinned to CPU 0 or not. Throughput: 8 MiB batches in 64 KiB writes to a sink that acknowledges each batch.`,
    latency,
    costs: [],
    targets,
    notes: [
      `The runtime's own sockets: ${NATIVE} (Unix stream and TCP); UDP has no flag-free native API in Deno, so node:dgram stands for it in both runtimes. Seqpacket and Unix datagram sockets have no native API to compare with.`,
      "ipckit framed() and RpcClient.call() rows (Unix stream and TCP, async) show what messages and RPC add over a plain async write/read: one framed 64 B message echoed, one RPC call of an echo handler with 64 bytes of params.",
      "Throughput is measured unpinned: a sender and a sink on one CPU measure the scheduler more than the socket.",
      "Numbers on a shared 2-CPU machine drift by several µs between runs; compare ratios within one run.",
      ...failures.map((f) => `FAILED: ${f}`),
    ],
  };
  const base = renderSuiteMarkdown(report);
  const at = base.indexOf("## Targets");
  const markdown = at < 0
    ? `${base}\n${throughputLines.join("\n")}`
    : `${base.slice(0, at)}${throughputLines.join("\n")}\n${base.slice(at)}`;
  console.log(markdown);
  writeResults("socket", markdown, renderSuiteSvg(report));
}
