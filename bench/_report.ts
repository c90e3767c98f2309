// Turns the benchmark numbers into Markdown tables and SVG charts: the mq
// suite's own report, and the generic one of the shm and sem suites.

/** Latency percentiles in µs. */
export interface Latency {
  p50: number;
  p99: number;
}

/** One round-trip scenario: the JS figures next to the C baseline they face. */
export interface LatencyRow {
  scenario: string;
  js: Latency;
  c: Latency;
  /** Which C placement this row is compared with. */
  baseline: string;
}

/** One-way throughput in GB/s (1e9 B/s). */
export interface ThroughputRow {
  placement: string;
  js: number;
  c: number;
}

/** A headline target and whether it was met. */
export interface Target {
  text: string;
  met: boolean;
}

/** Everything one run reports. */
export interface Report {
  runtime: string;
  version: string;
  date: string;
  rounds: number;
  throughputRounds: number;
  latency: LatencyRow[];
  throughput: ThroughputRow[];
  targets: Target[];
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const signed = (n: number) => `${n >= 0 ? "+" : ""}${fixed(n)}`;

/** A Markdown table of round trips (µs), each JS row next to its C baseline. */
function latencyTable(rows: LatencyRow[]): string[] {
  return [
    "| scenario | JS p50 | JS p99 | C p50 | C p99 | p50 JS/C | p50 JS−C µs |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map((row) =>
      `| ${row.scenario} (vs C ${row.baseline}) | ${fixed(row.js.p50)} | ${
        fixed(row.js.p99)
      } | ${fixed(row.c.p50)} | ${fixed(row.c.p99)} | ${
        fixed(row.js.p50 / row.c.p50, 2)
      } | ${signed(row.js.p50 - row.c.p50)} |`
    ),
  ];
}

/** The closing Markdown sections: the targets met or not, then the notes. */
function targetsAndNotes(targets: Target[], notes: string[]): string[] {
  return [
    "## Targets",
    "",
    ...targets.map((t) => `- ${t.met ? "MET" : "NOT MET"}: ${t.text}`),
    "",
    "## Reading it",
    "",
    ...notes.map((n) => `- ${n}`),
    "",
  ];
}

/** The Markdown report, also what the runner prints. */
export function renderMarkdown(r: Report): string {
  const lines = [
    `# POSIX message queue benchmark: ${r.runtime} ${r.version}`,
    "",
    `${r.date}. Two processes, request and reply queue; JS and C rounds interleaved, median of ${r.rounds} rounds (latency; each round's p50/p99 from tinybench or from all C samples) and ${r.throughputRounds} (throughput: a sample is a batch of 1000 messages, acknowledged, GB/s from the median batch time). The echo peer runs the same runtime and mode as the measuring side; C is fork()ed, blocking mq_send/mq_receive.`,
    "",
    "## Round trip, 64 B, µs",
    "",
    ...latencyTable(r.latency),
    "",
    "## One-way throughput, 8 KiB messages, GB/s",
    "",
    "| placement | JS sync | C | JS/C |",
    "|---|---:|---:|---:|",
    ...r.throughput.map((row) =>
      `| ${row.placement} | ${fixed(row.js, 2)} | ${fixed(row.c, 2)} | ${
        fixed(row.js / row.c, 2)
      } |`
    ),
    "",
    ...targetsAndNotes(r.targets, [
      "Unpinned C lands at ~7-10 µs when the scheduler keeps both processes on one CPU and at ~50-90 µs when each hop wakes an idle vCPU; which one happens moves between runs, so compare the pinned row for the binding's own cost.",
      "spin 50 µs: the waiting side retries non-blocking calls for up to 50 µs before parking, so both processes keep a CPU busy and no hop pays a wake-up (C blocks). Its p99 shows the hops that parked anyway.",
      "spin 0: every receive parks on the reactor: Deno resolves a nonblocking FFI epoll_wait (one thread wake-up per hop), Bun wakes a worker blocked in epoll_wait that messages the main thread (two per hop).",
    ]),
  ];
  return lines.join("\n");
}

const escape = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** The chart legend at `y`: JS and C swatches, and how to read a bar. */
const legend = (left: number, y: number): string[] => [
  `<rect x="${left}" y="${y - 11}" width="12" height="12" fill="#3b7dd8"/>`,
  `<text x="${left + 16}" y="${y}" font-size="12">JS</text>`,
  `<rect x="${left + 50}" y="${y - 11}" width="12" height="12" fill="#999"/>`,
  `<text x="${left + 66}" y="${y}" font-size="12">C</text>`,
  `<text x="${left + 100}" y="${y}" font-size="12">bar p50, whisker p99</text>`,
];

/** The SVG document around the chart's elements, on white. */
const svgDocument = (width: number, height: number, out: string[]): string =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");

/**
 * A two-panel bar chart: round-trip p50 (bar) and p99 (whisker) on a log
 * scale, since pinned and parked paths differ by orders of magnitude; and
 * throughput on a linear scale.
 */
export function renderSvg(r: Report): string {
  const width = 820;
  const left = 250;
  const plot = width - left - 90;
  const barH = 14;
  const out: string[] = [];
  let y = 30;
  out.push(
    `<text x="10" y="${y}" font-size="16" font-weight="bold">POSIX mq, ${
      escape(`${r.runtime} ${r.version}`)
    } vs C (${escape(r.date.slice(0, 10))})</text>`,
  );
  y += 24;
  out.push(...legend(left, y));
  y += 20;

  // Latency panel, log10 scale from 1 µs to the decade above the largest p99.
  const maxUs = Math.max(
    ...r.latency.flatMap((row) => [row.js.p99, row.c.p99]),
  );
  const decades = Math.max(1, Math.ceil(Math.log10(maxUs)));
  const lx = (us: number) =>
    left + (Math.log10(Math.max(us, 1)) / decades) * plot;
  out.push(
    `<text x="10" y="${y}" font-size="13" font-weight="bold">Round trip, 64 B (µs, log scale)</text>`,
  );
  y += 10;
  const top = y;
  const rowH = 2 * barH + 14;
  const bottom = top + r.latency.length * rowH;
  for (let d = 0; d <= decades; d++) {
    const x = lx(10 ** d);
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#ddd"/>`,
      `<text x="${x}" y="${bottom + 14}" font-size="11" text-anchor="middle">${
        10 ** d
      }</text>`,
    );
  }
  for (const row of r.latency) {
    out.push(
      `<text x="${left - 8}" y="${
        y + barH + 4
      }" font-size="12" text-anchor="end">${escape(row.scenario)}</text>`,
    );
    for (const [v, color] of [[row.js, "#3b7dd8"], [row.c, "#999"]] as const) {
      const x50 = lx(v.p50);
      const x99 = lx(v.p99);
      const mid = y + barH / 2;
      out.push(
        `<rect x="${left}" y="${y}" width="${
          x50 - left
        }" height="${barH}" fill="${color}"/>`,
        `<line x1="${x50}" y1="${mid}" x2="${x99}" y2="${mid}" stroke="#333"/>`,
        `<line x1="${x99}" y1="${y + 2}" x2="${x99}" y2="${
          y + barH - 2
        }" stroke="#333"/>`,
        `<text x="${x99 + 4}" y="${y + barH - 3}" font-size="11">${
          fixed(v.p50)
        } / ${fixed(v.p99)}</text>`,
      );
      y += barH;
    }
    y += 14;
  }
  y = bottom + 40;

  // Throughput panel, linear.
  out.push(
    `<text x="10" y="${y}" font-size="13" font-weight="bold">One-way throughput, 8 KiB messages (GB/s)</text>`,
  );
  y += 10;
  const maxGbps = Math.max(...r.throughput.flatMap((row) => [row.js, row.c]));
  const tx = (g: number) => left + (g / maxGbps) * (plot - 60);
  for (const row of r.throughput) {
    out.push(
      `<text x="${left - 8}" y="${
        y + barH + 4
      }" font-size="12" text-anchor="end">${escape(row.placement)}</text>`,
    );
    for (const [v, color] of [[row.js, "#3b7dd8"], [row.c, "#999"]] as const) {
      out.push(
        `<rect x="${left}" y="${y}" width="${
          tx(v) - left
        }" height="${barH}" fill="${color}"/>`,
        `<text x="${tx(v) + 4}" y="${y + barH - 3}" font-size="11">${
          fixed(v, 2)
        }</text>`,
      );
      y += barH;
    }
    y += 14;
  }
  const height = y + 10;
  return svgDocument(width, height, out);
}

/** A table of round trips (µs), each JS row next to its C baseline. */
export interface LatencySection {
  title: string;
  rows: LatencyRow[];
}

/** One per-operation figure (ns): JS next to C, or C absent (JS only). */
export interface CostRow {
  scenario: string;
  js: number;
  c?: number;
}

/** A table of per-operation costs in ns. */
export interface CostSection {
  title: string;
  rows: CostRow[];
}

/** Everything one run of the shm or sem suite reports. */
export interface SuiteReport {
  /** Heading, such as "shared memory + futex benchmark". */
  title: string;
  /** File-name stem of the suite, for the chart title. */
  suite: string;
  runtime: string;
  version: string;
  date: string;
  /** What was measured and how (one paragraph). */
  method: string;
  latency: LatencySection[];
  costs: CostSection[];
  targets: Target[];
  /** Explanations, one bullet each. */
  notes: string[];
}

/** The Markdown report of the shm and sem suites, also what they print. */
export function renderSuiteMarkdown(r: SuiteReport): string {
  const lines = [
    `# ${r.title}: ${r.runtime} ${r.version}`,
    "",
    `${r.date}. ${r.method}`,
    "",
  ];
  for (const s of r.latency) {
    lines.push(
      `## ${s.title}`,
      "",
      ...latencyTable(s.rows),
      "",
    );
  }
  for (const s of r.costs) {
    lines.push(
      `## ${s.title}`,
      "",
      "| scenario | JS ns | C ns | JS/C | JS−C ns |",
      "|---|---:|---:|---:|---:|",
      ...s.rows.map((row) =>
        row.c === undefined
          ? `| ${row.scenario} | ${fixed(row.js)} | | | |`
          : `| ${row.scenario} | ${fixed(row.js)} | ${fixed(row.c)} | ${
            fixed(row.js / row.c, 2)
          } | ${signed(row.js - row.c)} |`
      ),
      "",
    );
  }
  lines.push(...targetsAndNotes(r.targets, r.notes));
  return lines.join("\n");
}

interface Bar {
  value: number;
  whisker?: number;
  color: string;
  label: string;
}

/** One log-scale panel of labelled bar groups; returns the new y. */
function logPanel(
  out: string[],
  y: number,
  title: string,
  groups: { label: string; bars: Bar[] }[],
  left: number,
  plot: number,
  barH: number,
): number {
  const values = groups.flatMap((g) =>
    g.bars.flatMap((b) => [b.value, b.whisker ?? b.value])
  );
  const lo = Math.floor(Math.log10(Math.max(Math.min(...values), 1e-3)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values))));
  const lx = (v: number) =>
    left + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plot;
  out.push(
    `<text x="10" y="${y}" font-size="13" font-weight="bold">${
      escape(title)
    }</text>`,
  );
  y += 10;
  const top = y;
  const bottom = top +
    groups.reduce((h, g) => h + g.bars.length * barH + 14, 0);
  for (let d = lo; d <= hi; d++) {
    const x = lx(10 ** d);
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#ddd"/>`,
      `<text x="${x}" y="${bottom + 14}" font-size="11" text-anchor="middle">${
        10 ** d
      }</text>`,
    );
  }
  for (const g of groups) {
    out.push(
      `<text x="${left - 8}" y="${
        y + (g.bars.length * barH) / 2 + 4
      }" font-size="12" text-anchor="end">${escape(g.label)}</text>`,
    );
    for (const b of g.bars) {
      const x = lx(b.value);
      const mid = y + barH / 2;
      out.push(
        `<rect x="${left}" y="${y}" width="${
          Math.max(0, x - left)
        }" height="${barH}" fill="${b.color}"/>`,
      );
      let end = x;
      if (b.whisker !== undefined) {
        end = lx(b.whisker);
        out.push(
          `<line x1="${x}" y1="${mid}" x2="${end}" y2="${mid}" stroke="#333"/>`,
          `<line x1="${end}" y1="${y + 2}" x2="${end}" y2="${
            y + barH - 2
          }" stroke="#333"/>`,
        );
      }
      out.push(
        `<text x="${end + 4}" y="${y + barH - 3}" font-size="11">${
          escape(b.label)
        }</text>`,
      );
      y += barH;
    }
    y += 14;
  }
  return bottom + 40;
}

/**
 * The chart of the shm and sem suites: each latency table as a log-scale
 * panel (bar p50, whisker p99), each cost table as a log-scale panel of ns.
 */
export function renderSuiteSvg(r: SuiteReport): string {
  const width = 900;
  const left = 330;
  const plot = width - left - 120;
  const barH = 14;
  const out: string[] = [];
  let y = 30;
  out.push(
    `<text x="10" y="${y}" font-size="16" font-weight="bold">${
      escape(`${r.suite}: ${r.runtime} ${r.version} vs C`)
    } (${escape(r.date.slice(0, 10))})</text>`,
  );
  y += 24;
  out.push(...legend(left, y));
  y += 24;
  for (const s of r.latency) {
    y = logPanel(
      out,
      y,
      `${s.title} (µs, log scale)`,
      s.rows.map((row) => ({
        label: row.scenario,
        bars: [[row.js, "#3b7dd8"], [row.c, "#999"]].map(([v, color]) => ({
          value: (v as Latency).p50,
          whisker: (v as Latency).p99,
          color: color as string,
          label: `${fixed((v as Latency).p50)} / ${fixed((v as Latency).p99)}`,
        })),
      })),
      left,
      plot,
      barH,
    );
  }
  for (const s of r.costs) {
    y = logPanel(
      out,
      y,
      `${s.title} (ns, log scale)`,
      s.rows.map((row) => ({
        label: row.scenario,
        bars: [
          { value: row.js, color: "#3b7dd8", label: fixed(row.js) },
          ...(row.c === undefined
            ? []
            : [{ value: row.c, color: "#999", label: fixed(row.c) }]),
        ],
      })),
      left,
      plot,
      barH,
    );
  }
  const height = y;
  return svgDocument(width, height, out);
}
