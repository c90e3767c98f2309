// The round-trip machinery the shm and sem suites share: JS scenarios
// (sync, async, raw FFI; pinned or not; with or without a spin before
// sleeping) interleaved round by round with the C program doing the same,
// reduced to medians of rounds, and the issue's targets read off them.
import type { Latency, LatencyRow, Target } from "./_report.ts";
import { lastJson, medianLatency, pin, start } from "./_harness.ts";

/** One JS ping-pong scenario. */
export interface PingPongScenario {
  label: string;
  mode: "sync" | "async" | "raw";
  pinned: boolean;
  /** µs each side polls before sleeping; the C baseline spins as long. */
  spin: number;
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
