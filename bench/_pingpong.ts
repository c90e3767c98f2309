// The round-trip machinery the shm and sem suites share: JS scenarios
// (sync, async, raw FFI; pinned or not; with or without a spin before
// sleeping) interleaved round by round with the C program doing the same,
// reduced to medians of rounds, and the issue's targets read off them.
import type { Latency, LatencyRow, Target } from "./_report.ts";
import {
  clientAndPeer,
  lastJson,
  medianLatency,
  pin,
  script,
  start,
} from "./_harness.ts";

/** One JS ping-pong scenario. */
export interface PingPongScenario {
  label: string;
  mode: "sync" | "async" | "raw";
  pinned: boolean;
  /** µs each side polls before sleeping; the C baseline spins as long. */
  spin: number;
}

/**
 * The scenarios of a ping-pong suite, in report order: sync, raw (`raw`
 * names it) and async pinned to CPU 0; sync and async unpinned; then each
 * of `spinModes` unpinned with `spin` µs of polling before sleeping.
 */
export function pingPongScenarios(
  raw: string,
  spin: number,
  spinModes: ("sync" | "async")[],
): PingPongScenario[] {
  return [
    { label: "sync, pinned to CPU 0", mode: "sync", pinned: true, spin: 0 },
    { label: `${raw}, pinned to CPU 0`, mode: "raw", pinned: true, spin: 0 },
    { label: "async, pinned to CPU 0", mode: "async", pinned: true, spin: 0 },
    { label: "sync, unpinned", mode: "sync", pinned: false, spin: 0 },
    { label: "async, unpinned", mode: "async", pinned: false, spin: 0 },
    ...spinModes.map((mode) => ({
      label: `${mode}, unpinned, spin ${spin} µs`,
      mode,
      pinned: false,
      spin,
    })),
  ];
}

/**
 * Runs one JS scenario: `file` (a ping-pong script of bench/) as peer and
 * as client, both given the mode, `objects` (the named objects' names) and
 * the spin; the client also gets `time`, its tinybench ms. The client's
 * round-trip latency.
 */
export async function pingPongJs(
  file: string,
  s: PingPongScenario,
  objects: string[],
  time: number,
): Promise<Latency> {
  const args = [s.mode, ...objects, s.spin];
  const peer = start(pin(s.pinned, script(file, ["peer", ...args])));
  return await clientAndPeer<Latency>(
    peer,
    pin(s.pinned, script(file, ["client", ...args, time])),
  );
}

/** Round trips per C run: pinned hops are fast, unpinned ones ~50-90 µs. */
const C_COUNT = { pinned: 50_000, unpinned: 10_000 };

/** The C baseline a scenario is compared with. */
export const baselineOf = (s: { pinned: boolean; spin: number }): string =>
  `${s.pinned ? "pinned" : "unpinned"}${
    s.spin > 0 ? `, spin ${s.spin} µs` : ""
  }`;

/**
 * Runs `rounds` rounds; each runs the C program (`exe <count> <spin>`) once
 * per distinct placement, then every JS scenario through `runJs`.
 */
export async function measurePingPong(
  exe: string,
  scenarios: PingPongScenario[],
  rounds: number,
  runJs: (s: PingPongScenario) => Promise<Latency>,
): Promise<LatencyRow[]> {
  const placements = new Map<string, { pinned: boolean; spin: number }>();
  for (const s of scenarios) placements.set(baselineOf(s), s);
  const c = new Map<string, Latency[]>();
  const js = new Map<string, Latency[]>();
  for (let round = 1; round <= rounds; round++) {
    console.error(`round ${round}/${rounds}`);
    for (const [key, p] of placements) {
      const count = p.pinned ? C_COUNT.pinned : C_COUNT.unpinned;
      const out = await start(
        pin(p.pinned, [exe, String(count), String(p.spin)]),
      )
        .done;
      c.set(key, [...(c.get(key) ?? []), lastJson<Latency>(out)]);
    }
    for (const s of scenarios) {
      const result = await retried(s, runJs);
      if (result) js.set(s.label, [...(js.get(s.label) ?? []), result]);
    }
  }
  for (const s of scenarios) {
    if (!js.has(s.label)) {
      failures.push(`${s.label}: no round succeeded, row left out`);
    }
  }
  // A scenario that never succeeded reads as NaN (and fails its target).
  const none = { p50: NaN, p99: NaN };
  return scenarios.map((s) => ({
    scenario: s.label,
    js: js.has(s.label) ? medianLatency(js.get(s.label)!) : none,
    c: medianLatency(c.get(baselineOf(s))!),
    baseline: baselineOf(s),
  }));
}

/** Failed JS runs (retried), to be named in the report. */
export const failures: string[] = [];

/** The report's notes on `failures`, one a failed run. */
export const failureNotes = (): string[] =>
  failures.map((f) =>
    `A JS run failed (retried once; a round failing twice is left out): ${f}`
  );

/**
 * Runs a scenario, retrying once; failures are logged and recorded, and a
 * round that failed twice is left out (`undefined`).
 */
async function retried(
  s: PingPongScenario,
  runJs: (s: PingPongScenario) => Promise<Latency>,
): Promise<Latency | undefined> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      return await runJs(s);
    } catch (error) {
      const first = String((error as Error)?.message ?? error).split("\n")
        .find((line) => line.includes("Error")) ?? String(error);
      failures.push(`${s.label}: ${first.trim()}`);
      console.error(`${s.label}: attempt ${attempt} failed:\n${error}`);
    }
  }
  return undefined;
}

const find = (
  rows: LatencyRow[],
  scenarios: PingPongScenario[],
  mode: string,
  pinned: boolean,
  spin: (n: number) => boolean,
) => {
  const i = scenarios.findIndex((s) =>
    s.mode === mode && s.pinned === pinned && spin(s.spin)
  );
  return i < 0 ? undefined : rows[i];
};

/**
 * The issue's targets: sync pinned p50 within 1 µs of C; async unpinned
 * p50 within 2x of C unpinned, once without spinning on either side and
 * once with the same spin on both sides.
 */
export function pingPongTargets(
  rows: LatencyRow[],
  scenarios: PingPongScenario[],
): Target[] {
  const targets: Target[] = [];
  const sync = find(rows, scenarios, "sync", true, (n) => n === 0);
  if (sync) {
    const diff = sync.js.p50 - sync.c.p50;
    targets.push({
      text: `sync pinned p50 within 1 µs of C: JS ${
        sync.js.p50.toFixed(1)
      } µs vs C ${sync.c.p50.toFixed(1)} µs (${diff >= 0 ? "+" : ""}${
        diff.toFixed(1)
      } µs)`,
      met: diff <= 1, // false for NaN
    });
  }
  for (const spinning of [false, true]) {
    const row = find(
      rows,
      scenarios,
      "async",
      false,
      (n) => (n > 0) === spinning,
    );
    if (!row) continue;
    const ratio = row.js.p50 / row.c.p50;
    targets.push({
      text: `async unpinned p50 within 2x of C unpinned (${
        spinning
          ? `both sides spin ${row.baseline.split("spin ")[1]}`
          : "no spin either side"
      }): JS ${row.js.p50.toFixed(1)} µs vs C ${row.c.p50.toFixed(1)} µs (${
        ratio.toFixed(2)
      }x)`,
      met: ratio <= 2,
    });
  }
  return targets;
}
