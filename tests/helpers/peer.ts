// Spawning peer processes for cross-process tests: the same runtime, the
// other runtime, or a C program built with the system gcc.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

/** The runtimes the suite runs under. */
export type Runtime = "deno" | "bun";
/** Both runtimes. */
export const RUNTIMES: readonly Runtime[] = ["deno", "bun"];
/** The runtime running this file. */
export const CURRENT: Runtime = "Bun" in globalThis ? "bun" : "deno";
/** The repository root, with a trailing slash. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

function binary(runtime: Runtime): string {
  // The npm packages' binaries (no node_modules/.bin: see .npmrc).
  const local = runtime === "deno"
    ? `${ROOT}node_modules/deno/deno`
    : `${ROOT}node_modules/bun/bin/bun.exe`;
  return existsSync(local) ? local : runtime;
}

/** The command line that runs `script` (relative to the repo root) under `runtime`. */
export function peerCommand(
  runtime: Runtime,
  script: string,
  args: readonly string[] = [],
): [string, string[]] {
  const path = script.startsWith("/") ? script : `${ROOT}${script}`;
  return runtime === "deno"
    ? [binary("deno"), ["run", "--allow-all", "--quiet", path, ...args]]
    : [binary("bun"), ["run", path, ...args]];
}

/** What a finished peer printed. */
export interface PeerResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Starts a peer; the caller reads its output or waits with {@link finished}. */
export function startPeer(
  runtime: Runtime | "exec",
  script: string,
  args: readonly string[] = [],
  options: { user?: "nobody" } = {},
): ChildProcess {
  let [cmd, argv] = runtime === "exec"
    ? [script, [...args]]
    : peerCommand(runtime, script, args);
  if (options.user === "nobody") {
    argv = [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      cmd,
      ...argv,
    ];
    cmd = "setpriv";
  }
  return spawn(cmd, argv, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined },
  });
}

/** Waits for a peer to exit (killing it after `timeout` ms) and collects its output. */
export function finished(
  child: ChildProcess,
  timeout = 30_000,
): Promise<PeerResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a peer to completion. */
export function runPeer(
  runtime: Runtime | "exec",
  script: string,
  args: readonly string[] = [],
  options: { user?: "nobody"; timeout?: number } = {},
): Promise<PeerResult> {
  const child = startPeer(runtime, script, args, options);
  child.stdin?.end();
  return finished(child, options.timeout);
}

/** Resolves with the first line a peer prints on stdout (a readiness handshake). */
export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (d: Buffer) => {
      buffered += d.toString("utf8");
      const at = buffered.indexOf("\n");
      if (at !== -1) {
        child.stdout!.off("data", onData);
        resolve(buffered.slice(0, at));
      }
    };
    child.stdout!.on("data", onData);
    child.on(
      "close",
      (code) =>
        reject(new Error(`peer exited (${code}) before printing a line`)),
    );
  });
}

/**
 * Builds a C program from `tests/helpers/c/<name>.c` (once per source
 * version) with the system gcc and returns the executable's path.
 */
export function buildC(name: string, extra: readonly string[] = []): string {
  const source = `${ROOT}tests/helpers/c/${name}.c`;
  const dir = `${tmpdir()}/ipckit-c-${process.getuid?.() ?? 0}`;
  mkdirSync(dir, { recursive: true });
  const out = `${dir}/${name}-${process.pid}-${
    Math.random().toString(36).slice(2)
  }`;
  execFileSync("gcc", ["-O2", "-Wall", "-o", out, source, ...extra, "-lrt"], {
    stdio: "pipe",
  });
  return out;
}

/** A random POSIX object name for a test: `/ipckit_test_<random>`. */
export function testName(): string {
  return `/ipckit_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}
