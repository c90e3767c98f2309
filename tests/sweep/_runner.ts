// Runs one module's sweep in child processes of the current runtime: one
// child for the whole batch, restarted after the case that crashed it, hung
// it or made it grow past the memory cap. Each child runs in its own IPC and
// mount namespace when `unshare` allows (root): a private /dev/shm of
// 128 MiB, its own mqueue mount and System V objects, so that everything it
// leaves is its own and nothing it does can reach another job's objects.
// RLIMIT_FSIZE (128 MiB) stops a regression that would reserve a huge file.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { acceptable, type CaseResult } from "./_harness.ts";
import { RUN_PREFIX } from "../helpers/prefix.ts";

/** The runtime running this file. */
export const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";

/** The prefix of every name this run makes. */
export const PREFIX: string = RUN_PREFIX;

/**
 * How long one case may run before the child is killed (a sync hang; an
 * async call reports its own timeout after 2 s, cleanup included).
 */
const CASE_LIMIT_MS = 3_000;
/**
 * How long one module's sweep may take (SWEEP_BUDGET_S): a healthy module
 * takes a few seconds; one that hangs in every other case would take
 * minutes, so what is left is reported as not run.
 */
export const BUDGET_MS: number = Number(process.env.SWEEP_BUDGET_S ?? 45) *
  1000;
/** How long a child may take to start and list its cases. */
const START_LIMIT_MS = 30_000;
/** The resident memory a child may reach before it is killed. */
const RSS_LIMIT = 1024 * 1024 * 1024;
/** The largest file (tmpfs, memfd, disk) a child may make. */
const FILE_LIMIT = 128 * 1024 * 1024;
/** Restarts after which the rest of a batch is given up (SWEEP_MAX_CHILDREN). */
const MAX_RESTARTS = Number(process.env.SWEEP_MAX_CHILDREN ?? 40);

const CHILD = fileURLToPath(new URL("./_child.ts", import.meta.url));

// Children still running when this process exits (a test runner that gave
// up on a test, say) are killed, not left hanging, and their files go.
const LIVE = new Set<ChildProcess>();
const DIRS = new Set<string>();
process.on("exit", () => {
  for (const child of LIVE) child.kill("SIGKILL");
  for (const dir of DIRS) rmSync(dir, { recursive: true, force: true });
});
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function works(cmd: string, args: string[]): boolean {
  try {
    return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
  } catch {
    return false;
  }
}

/** What isolates the children, decided once. */
export const ISOLATION: { namespaces: boolean; fileLimit: boolean } = {
  // SWEEP_NO_NAMESPACES=1 runs the children like any peer (as without root).
  namespaces: process.env.SWEEP_NO_NAMESPACES !== "1" && works("unshare", [
    "--ipc",
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    "mount -t tmpfs -o size=1m none /dev/shm",
  ]),
  fileLimit: works("prlimit", ["--fsize=1000000", "--", "true"]),
};

const SETUP =
  `mount -t tmpfs -o size=${FILE_LIMIT},mode=1777 ipckit_sweep /dev/shm &&
mkdir /dev/shm/.mqueue && mount -t mqueue ipckit_sweep /dev/shm/.mqueue || exit 97
exec "$@"`;

function command(): [string, string[]] {
  const exe = process.execPath;
  let argv = RUNTIME === "deno"
    ? [exe, "run", "--no-check", "--allow-all", "--quiet", CHILD]
    : [exe, "run", CHILD];
  if (ISOLATION.fileLimit) {
    argv = ["prlimit", `--fsize=${FILE_LIMIT}`, "--core=0", "--", ...argv];
  }
  if (ISOLATION.namespaces) {
    argv = [
      "unshare",
      "--ipc",
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      SETUP,
      "sweep",
      ...argv,
    ];
  }
  return [argv[0], argv.slice(1)];
}

/** The result of one module's sweep. */
export interface Sweep {
  module: string;
  runtime: string;
  results: CaseResult[];
  /** Children started (1 when nothing crashed or hung). */
  children: number;
  seconds: number;
  canary: string | undefined;
  /** Problems of the harness itself (a child that could not start). */
  errors: string[];
  /**
   * Per child, how many threads it gained from its first case to its last,
   * and the cases after which the count grew: a wait that leaves a thread
   * behind shows here.
   */
  threadGrowth: { child: number; grew: number; at: string[] }[];
}

function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    );
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Batch {
  total: number | undefined;
  current: { i: number; id: string } | undefined;
  done: boolean;
  canary: string | undefined;
  reason: string | undefined;
  exit: string;
  stderr: string;
}

/** Options for {@linkcode sweep} (the defaults suit the real sweep). */
export interface SweepOptions {
  /** More environment for the children (SWEEP_ONLY, SWEEP_SELFTEST, ...). */
  env?: Record<string, string>;
  /** How long one case may run before its child is killed. */
  caseLimitMs?: number;
  /** Resident memory over the child's first reading that gets it killed. */
  rssGrowthLimit?: number;
  /** When the sweep gives up (ms since the epoch). */
  deadline?: number;
}

function runBatch(
  module: string,
  from: number,
  env: Record<string, string>,
  cwd: string,
  results: Map<number, CaseResult>,
  options: SweepOptions,
): Promise<Batch> {
  const [cmd, args] = command();
  const child = spawn(cmd, args, {
    cwd,
    env: { ...env, SWEEP_MODULE: module, SWEEP_FROM: String(from) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  LIVE.add(child);
  const batch: Batch = {
    total: undefined,
    current: undefined,
    done: false,
    canary: undefined,
    reason: undefined,
    exit: "",
    stderr: "",
  };
  let buffered = "";
  let since = Date.now();
  let firstRss: number | undefined;
  const caseLimit = options.caseLimitMs ?? CASE_LIMIT_MS;
  const kill = (reason: string) => {
    if (batch.reason !== undefined) return;
    batch.reason = reason;
    child.kill("SIGKILL");
  };
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let at: number;
    while ((at = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        batch.stderr += `stdout: ${line}\n`;
        continue;
      }
      if (typeof msg.total === "number") batch.total = msg.total;
      else if (typeof msg.start === "number") {
        batch.current = { i: msg.start, id: String(msg.id) };
        since = Date.now();
      } else if (typeof msg.outcome === "string") {
        const r = msg as unknown as CaseResult;
        r.child = child.pid;
        results.set(r.i, r);
        batch.current = undefined;
      } else if (typeof msg.canary === "string") batch.canary = msg.canary;
      else if (msg.done === true) batch.done = true;
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    batch.stderr = (batch.stderr + chunk).slice(-4000);
  });
  const watchdog = setInterval(() => {
    const now = Date.now();
    if (options.deadline !== undefined && now > options.deadline) {
      kill("budget");
    } else if (batch.total === undefined && now - since > START_LIMIT_MS) {
      kill("did not start");
    } else if (batch.current !== undefined && now - since > caseLimit) {
      kill("timeout");
    } else if (child.pid !== undefined && batch.total !== undefined) {
      const now = rss(child.pid);
      firstRss ??= now;
      const limit = options.rssGrowthLimit === undefined
        ? RSS_LIMIT
        : firstRss + options.rssGrowthLimit;
      if (now > limit) kill("memory");
    }
  }, 50);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      LIVE.delete(child);
      clearInterval(watchdog);
      batch.exit = signal ?? `exit code ${code}`;
      resolve(batch);
    });
  });
}

/** Sweeps `module` ("mq", "shm", "sem") under the current runtime. */
export async function sweep(
  module: string,
  options: SweepOptions = {},
): Promise<Sweep> {
  const start = performance.now();
  const tag = `${PREFIX}_sw${Math.random().toString(36).slice(2, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  DIRS.add(dir);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "FORCE_COLOR") env[k] = v;
  }
  Object.assign(env, {
    NO_COLOR: "1",
    SWEEP_TAG: tag,
    SWEEP_DIR: dir,
    SWEEP_ISOLATED: ISOLATION.namespaces ? "1" : "0",
    SWEEP_MQUEUE: ISOLATION.namespaces ? "/dev/shm/.mqueue" : "",
    SWEEP_ROOT: ROOT,
    ...options.env,
  });
  const results = new Map<number, CaseResult>();
  const errors: string[] = [];
  let from = 0;
  let total: number | undefined;
  let children = 0;
  let canary: string | undefined;
  const retried = new Set<number>();
  options = { deadline: Date.now() + BUDGET_MS, ...options };
  try {
    while (total === undefined || from < total) {
      if (Date.now() > options.deadline!) {
        errors.push(
          `the ${
            BUDGET_MS / 1000
          } s budget was spent after ${children} children: cases ${from}..${
            total! - 1
          } not run`,
        );
        break;
      }
      if (children > MAX_RESTARTS) {
        errors.push(
          `gave up after ${children} children; cases ${from}..${
            total! - 1
          } not run`,
        );
        break;
      }
      children++;
      const batch = await runBatch(module, from, env, dir, results, options);
      total ??= batch.total;
      if (batch.done) {
        canary = batch.canary;
        break;
      }
      if (batch.total === undefined) {
        errors.push(
          `the child did not start (${
            batch.reason ?? batch.exit
          }):\n${batch.stderr}`,
        );
        break;
      }
      // The case that was running when the child died or was killed.
      const lastDone = Math.max(from - 1, ...results.keys());
      const i = batch.current?.i ?? lastDone + 1;
      if (batch.reason === "budget") {
        errors.push(
          `the ${
            BUDGET_MS / 1000
          } s budget was spent after ${children} children: cases ${i}..${
            batch.total - 1
          } not run`,
        );
        break;
      }
      if (i >= batch.total) {
        canary = `the child died after the last case (${batch.exit}): ${
          batch.stderr.slice(-500)
        }`;
        break;
      }
      // A machine shared with other jobs can stall a child for seconds:
      // a hang counts only when the case hangs again in a fresh child.
      if (batch.reason === "timeout" && !retried.has(i)) {
        retried.add(i);
        from = i;
        continue;
      }
      const outcome = batch.reason === "timeout"
        ? "timeout"
        : batch.reason === "memory"
        ? "other:memory:resident memory over the limit"
        : "crash";
      results.set(i, {
        i,
        id: batch.current?.id ?? `case ${i}`,
        input: "",
        validity: "invalid",
        outcome,
        ms: 0,
        note: `child ended by ${batch.exit}${
          retried.has(i) ? " (twice, in two children)" : ""
        }${batch.stderr ? `; stderr: ${batch.stderr.trim().slice(-600)}` : ""}`,
      });
      from = i + 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    DIRS.delete(dir);
  }
  const sorted = [...results.values()].sort((a, b) => a.i - b.i);
  const threadGrowth: Sweep["threadGrowth"] = [];
  for (const pid of new Set(sorted.map((r) => r.child))) {
    const mine = sorted.filter((r) => r.child === pid && r.threads);
    if (pid === undefined || mine.length === 0) continue;
    const at = mine.filter((r, k) => k > 0 && r.threads! > mine[k - 1].threads!)
      .map((r) => r.id);
    threadGrowth.push({
      child: pid,
      grew: mine.at(-1)!.threads! - mine[0].threads!,
      at,
    });
  }
  return {
    module,
    runtime: RUNTIME,
    threadGrowth,
    results: sorted,
    children,
    seconds: Math.round((performance.now() - start) / 100) / 10,
    canary,
    errors,
  };
}

/** Whether a case passes (see the harness), an unhandled rejection failing it. */
export function passes(r: CaseResult): boolean {
  return !r.unhandled && acceptable(r.outcome, r.validity, r.leaks);
}

/** Counts by outcome, most frequent first. */
export function counts(results: readonly CaseResult[]): [string, number][] {
  const map = new Map<string, number>();
  for (const r of results) {
    const key = r.outcome.startsWith("other:")
      ? r.outcome.split(":").slice(0, 2).join(":")
      : r.outcome;
    map.set(key, (map.get(key) ?? 0) + 1);
  }
  return [...map].sort((a, b) => b[1] - a[1]);
}
