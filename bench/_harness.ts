// What every benchmark suite shares: the runtime's name, child processes
// started (optionally under `taskset -c 0`) and killed, the C baselines
// built with gcc, the named IPC objects the run made (removed in `finally`
// and on Ctrl-C), medians, and writing bench/results/<suite>-<runtime>.*.
import process from "node:process";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageQueue } from "../mq/mod.ts";
import { SharedMemory } from "../shm/mod.ts";
import { Semaphore } from "../sem/mod.ts";
import type { Latency } from "./_report.ts";

export const HERE: string = fileURLToPath(new URL(".", import.meta.url));
/** Longest any one child may run before it is killed as hung, ms. */
export const CHILD_TIMEOUT = 60_000;

const g = globalThis as {
  Bun?: { version: string };
  Deno?: { version: { deno: string } };
};
/** The runtime running the benchmark, and its version. */
export const runtime: { name: string; version: string } = g.Bun
  ? { name: "bun", version: g.Bun.version }
  : { name: "deno", version: g.Deno!.version.deno };

const children = new Set<ChildProcess>();

/** The kinds of named object a suite may create. */
export type ObjectKind = "mq" | "shm" | "sem";
const objects = new Map<string, ObjectKind>();

const unlinkers: Record<ObjectKind, (name: string) => void> = {
  mq: (name) => MessageQueue.unlink(name),
  shm: (name) => SharedMemory.unlink(name),
  sem: (name) => Semaphore.unlink(name),
};

/** A fresh random name `/ipckit_bench_<16 hex>_<suffix>`. */
export function benchName(suffix: string): string {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  return `/ipckit_bench_${id}_${suffix}`;
}

/** Records a named object this run created, so cleanup removes it. */
export function track(kind: ObjectKind, name: string): void {
  objects.set(name, kind);
}

/** Removes a tracked object now (quietly if already gone). */
export function untrack(name: string): void {
  const kind = objects.get(name);
  if (kind === undefined) return;
  objects.delete(name);
  try {
    unlinkers[kind](name);
  } catch { /* already gone */ }
}

/** Kills every child still running and removes every tracked object. */
export function cleanupAll(): void {
  for (const child of children) child.kill("SIGKILL");
  for (const name of [...objects.keys()]) untrack(name);
}

/** The command running a TypeScript file of bench/ in this runtime. */
export function script(file: string, args: (string | number)[]): string[] {
  const path = join(HERE, file);
  const rest = args.map(String);
  return runtime.name === "deno"
    ? [process.execPath, "run", "--allow-all", "--quiet", path, ...rest]
    : [process.execPath, "run", path, ...rest];
}

/** Prefixes `taskset -c 0` when pinned. */
export const pin = (pinned: boolean, cmd: string[]): string[] =>
  pinned ? ["taskset", "-c", "0", ...cmd] : cmd;

/** A started child process. */
export interface Running {
  child: ChildProcess;
  /** Resolves with stdout on exit 0, rejects otherwise. */
  done: Promise<string>;
}

/** Starts a child; it is killed after {@linkcode CHILD_TIMEOUT}. */
export function start(cmd: string[]): Running {
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

/** Kills a child if it still runs and waits for it to be gone. */
export function stop(running: Running | undefined): Promise<void> {
  if (!running) return Promise.resolve();
  if (running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill("SIGKILL");
  }
  return running.done.then(() => {}, () => {});
}

/** The last line of a child's stdout, parsed as JSON. */
export const lastJson = <T>(stdout: string): T =>
  JSON.parse(stdout.trim().split("\n").at(-1)!) as T;

/**
 * Runs a measuring client against a peer that is already running: the
 * client's JSON, or the peer's failure as soon as it fails. The peer is
 * killed afterwards either way.
 */
export async function clientAndPeer<T>(
  peer: Running,
  clientCmd: string[],
): Promise<T> {
  let client: Running | undefined;
  try {
    client = start(clientCmd);
    // A peer that fails would leave the client waiting: fail at once. (A
    // peer that exits 0 is fine: the client finished first.)
    const peerFailed = peer.done.then(() => new Promise<never>(() => {}));
    peerFailed.catch(() => {});
    return lastJson<T>(await Promise.race([client.done, peerFailed]));
  } finally {
    await Promise.all([stop(client), stop(peer)]);
  }
}

/** Builds `bench/c/<source>.c` into `dir`; returns the executable. */
export function buildC(dir: string, source: string, libs: string[]): string {
  const exe = join(dir, source);
  execFileSync("gcc", [
    "-O2",
    "-Wall",
    "-o",
    exe,
    join(HERE, "c", `${source}.c`),
    ...libs,
  ], { stdio: "inherit" });
  return exe;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const medianLatency = (xs: Latency[]): Latency => ({
  p50: median(xs.map((x) => x.p50)),
  p99: median(xs.map((x) => x.p99)),
});

/** Writes bench/results/<suite>-<runtime>.{md,svg}. */
export function writeResults(suite: string, md: string, svg: string): void {
  const results = join(HERE, "results");
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, `${suite}-${runtime.name}.md`), md);
  writeFileSync(join(results, `${suite}-${runtime.name}.svg`), svg);
  console.error(`wrote bench/results/${suite}-${runtime.name}.{md,svg}`);
}
