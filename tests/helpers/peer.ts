// Spawning peer processes for cross-process tests: the same runtime, the
// other runtime, a C program built with the system gcc, or any command.
//
// Every peer is tracked from the moment it is spawned: its output and exit
// are recorded then, so `finished()` resolves whenever it is called, and
// `killPeers()` (run it in `afterEach`) kills whatever a failing test left
// running. `succeeded()` judges a peer by its exit code, not only by what it
// printed, and fails at once when a peer printed its result but hangs at exit;
// `nextLine()` and `outputUntil()` wait for its output, failing when it exits
// first.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/** The runtimes the suite runs under. */
export type Runtime = "deno" | "bun";
/** Both runtimes. */
export const RUNTIMES: readonly Runtime[] = ["deno", "bun"];
/** The runtime running this file. */
export const CURRENT: Runtime = "Bun" in globalThis ? "bun" : "deno";
/** The repository root, with a trailing slash. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));
/** Whether the suite runs as root (switching to `nobody`, raising limits). */
export const IS_ROOT: boolean = process.getuid?.() === 0;

export { RUN_PREFIX } from "./prefix.ts";
import { RUN_PREFIX } from "./prefix.ts";

// Deno's sync spawns (execFileSync, spawnSync) and Deno.Command without
// clearEnv add this process's environment back whatever `env` says, so a
// FORCE_COLOR the runner was started with would reach those children and
// colour their output: it goes from this process's environment at once.
delete process.env.FORCE_COLOR;

/** How long a peer may take to exit after it printed its result. */
const GRACE = 5_000;

function binary(runtime: Runtime): string {
  // The npm packages' binaries (no node_modules/.bin: see .npmrc).
  const local = runtime === "deno"
    ? `${ROOT}node_modules/deno/deno`
    : `${ROOT}node_modules/bun/bin/bun.exe`;
  return existsSync(local) ? local : runtime;
}

/**
 * The environment of every peer: this process's, without `FORCE_COLOR`
 * (Deno colours console.log output when it is set at all) and with
 * `NO_COLOR`, so peers print plain text whatever the caller's terminal.
 */
export function peerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== "FORCE_COLOR") env[key] = value;
  }
  env.NO_COLOR = "1";
  return env;
}

/**
 * The command line that runs `script` (relative to the repo root) under
 * `runtime`; under Deno with `permissions` (default `--allow-all`).
 */
export function peerCommand(
  runtime: Runtime,
  script: string,
  args: readonly string[] = [],
  permissions?: readonly string[],
): [string, string[]] {
  return commandIn(ROOT, binary(runtime), runtime, script, args, permissions);
}

function commandIn(
  root: string,
  exe: string,
  runtime: Runtime,
  script: string,
  args: readonly string[],
  permissions: readonly string[] = ["--allow-all"],
): [string, string[]] {
  const path = script.startsWith("/") ? script : join(root, script);
  return runtime === "deno"
    ? [exe, ["run", ...permissions, "--quiet", path, ...args]]
    : [exe, ["run", path, ...args]];
}

/** How a peer is started. */
export interface PeerOptions {
  /** Run the peer as `nobody` (through setpriv; needs root). */
  user?: "nobody";
  /**
   * A command that runs the peer, such as `["prlimit", "--msgqueue=4096"]`;
   * it must exec its last arguments (the peer's command line).
   */
  wrap?: readonly string[];
  /** Descriptors the peer inherits as fd 3, 4, ... */
  fds?: readonly number[];
  /** Variables added to {@link peerEnv}'s environment. */
  env?: Readonly<Record<string, string>>;
  /**
   * Deno's permission flags for the peer, such as `["--allow-ffi"]`, in
   * place of `--allow-all` (Bun has none: ignored there).
   */
  permissions?: readonly string[];
}

/** What a finished peer printed, and how it ended. */
export interface PeerResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /**
   * Milliseconds from the peer's last output on stdout to its exit, or
   * `undefined` when it printed nothing.
   */
  lingered: number | undefined;
}

interface PeerRecord {
  label: string;
  stdout: string;
  stderr: string;
  lastOutput: number | undefined;
  exitedAt: number | undefined;
  result: PeerResult | undefined;
  exit: Promise<PeerResult>;
  linesTaken: number;
  listeners: Set<() => void>;
}

const RECORDS = new WeakMap<ChildProcess, PeerRecord>();
const LIVE = new Set<ChildProcess>();
const SANDBOXES = new Set<string>();

process.on("exit", () => {
  for (const child of LIVE) child.kill("SIGKILL");
  for (const dir of SANDBOXES) rmSync(dir, { recursive: true, force: true });
});

function recordOf(child: ChildProcess): PeerRecord {
  const record = RECORDS.get(child);
  if (record === undefined) {
    throw new TypeError("Not a peer: start peers with startPeer()");
  }
  return record;
}

/**
 * Copies what a peer run as `nobody` needs into a fresh world-readable
 * directory: the modules (deno.json's exports), tests/helpers, cli/ and the
 * runtime binary (hard-linked when it is world-executable, else copied), so
 * the peer runs wherever the checkout sits, a 0700 home directory included.
 * Returns the directory and the binary's path in it.
 */
function nobodySandbox(runtime: Runtime | "exec", exe: string): {
  dir: string;
  exe: string;
} {
  const dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}-nobody-`));
  SANDBOXES.add(dir);
  const config = JSON.parse(readFileSync(`${ROOT}deno.json`, "utf8"));
  const sources = new Set<string>(["tests/helpers", "cli"]);
  for (const entry of Object.values(config.exports) as string[]) {
    const path = entry.replace(/^\.\//, "");
    sources.add(path === "mod.ts" ? path : dirname(path));
  }
  for (const source of sources) {
    cpSync(join(ROOT, source), join(dir, source), {
      recursive: true,
      filter: (p) => !p.endsWith(".md") && !p.endsWith("_test.ts"),
    });
  }
  let ownExe = exe;
  if (exe.startsWith("/")) {
    mkdirSync(join(dir, "bin"));
    ownExe = join(dir, "bin", runtime === "exec" ? basename(exe) : runtime);
    let linked = false;
    if ((statSync(exe).mode & 0o005) === 0o005) {
      try {
        linkSync(exe, ownExe);
        linked = true;
      } catch { /* another file system, or protected_hardlinks: copy */ }
    }
    if (!linked) {
      copyFileSync(exe, ownExe);
      chmodSync(ownExe, 0o755);
    }
  }
  const open = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      chmodSync(path, 0o755);
      for (const name of readdirSync(path)) open(join(path, name));
    } else if (path !== ownExe) {
      chmodSync(path, 0o644);
    }
  };
  open(dir);
  return { dir, exe: ownExe };
}

/**
 * Starts a peer and records its output and exit from now on; read it with
 * {@link nextLine}, wait with {@link succeeded} or {@link finished}.
 * `runtime` "exec" runs `script` as a command.
 */
export function startPeer(
  runtime: Runtime | "exec",
  script: string,
  args: readonly string[] = [],
  options: PeerOptions = {},
): ChildProcess {
  let sandbox: string | undefined;
  let [cmd, argv]: [string, string[]] = runtime === "exec"
    ? [script, [...args]]
    : peerCommand(runtime, script, args, options.permissions);
  if (options.user === "nobody") {
    // nobody may not reach the checkout (a clone in /root is 0700): run a
    // copy of the peer and of the runtime from a world-readable directory.
    const box = nobodySandbox(
      runtime,
      runtime === "exec" ? script : binary(runtime),
    );
    sandbox = box.dir;
    if (runtime === "exec") {
      cmd = box.exe;
    } else {
      const path = script.startsWith("/") ? relative(ROOT, script) : script;
      [cmd, argv] = commandIn(
        box.dir,
        box.exe,
        runtime,
        path,
        args,
        options.permissions,
      );
    }
    argv = [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      cmd,
      ...argv,
    ];
    cmd = "setpriv";
  }
  if (options.wrap && options.wrap.length > 0) {
    argv = [...options.wrap.slice(1), cmd, ...argv];
    cmd = options.wrap[0];
  }
  const child = spawn(cmd, argv, {
    stdio: ["pipe", "pipe", "pipe", ...(options.fds ?? [])],
    env: { ...peerEnv(), ...options.env },
    cwd: sandbox ?? ROOT,
  });
  const label = `peer ${runtime === "exec" ? basename(script) : runtime} ${
    runtime === "exec" ? "" : `${basename(script)} `
  }${args.join(" ")}`.trim();
  let settle!: (result: PeerResult) => void;
  let fail!: (error: Error) => void;
  const record: PeerRecord = {
    label,
    stdout: "",
    stderr: "",
    lastOutput: undefined,
    exitedAt: undefined,
    result: undefined,
    exit: new Promise<PeerResult>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    }),
    linesTaken: 0,
    listeners: new Set(),
  };
  record.exit.catch(() => {}); // observed by finished(); never unhandled
  RECORDS.set(child, record);
  LIVE.add(child);
  const notify = () => {
    for (const listener of [...record.listeners]) listener();
  };
  const done = () => {
    LIVE.delete(child);
    if (sandbox !== undefined) {
      rmSync(sandbox, { recursive: true, force: true });
      SANDBOXES.delete(sandbox);
    }
  };
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    record.stdout += d;
    record.lastOutput = performance.now();
    notify();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    record.stderr += d;
  });
  child.on("exit", () => {
    record.exitedAt ??= performance.now();
  });
  child.on("error", (error) => {
    if (record.result) return;
    done();
    fail(new Error(`${label} could not run: ${error.message}`));
    notify();
  });
  child.on("close", (code, signal) => {
    if (record.result) return;
    record.exitedAt ??= performance.now();
    record.result = {
      code,
      signal,
      stdout: record.stdout,
      stderr: record.stderr,
      lingered: record.lastOutput === undefined
        ? undefined
        : record.exitedAt - record.lastOutput,
    };
    done();
    settle(record.result);
    notify();
  });
  return child;
}

/**
 * Waits for a peer to exit (killing it after `timeout` ms) and returns what
 * it printed and how it ended. Resolves whenever it is called, also after
 * the peer exited.
 */
export async function finished(
  child: ChildProcess,
  timeout = 30_000,
): Promise<PeerResult> {
  const record = recordOf(child);
  if (record.result) return record.result;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
  try {
    return await record.exit;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for a peer to exit, asserts that it exited with code 0, and
 * returns its stdout, trimmed. A peer that printed something and has not
 * exited `grace` ms after its last output (the result printed, the process
 * stuck at exit) is killed and fails the test at once.
 */
export async function succeeded(
  child: ChildProcess,
  options: { timeout?: number; grace?: number } = {},
): Promise<string> {
  const { timeout = 30_000, grace = GRACE } = options;
  const record = recordOf(child);
  let hung = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (record.result || record.stdout === "") return;
    timer = setTimeout(() => {
      if (record.result) return;
      hung = true;
      child.kill("SIGKILL");
    }, grace);
  };
  record.listeners.add(arm);
  arm();
  let result: PeerResult;
  try {
    result = await finished(child, timeout);
  } finally {
    clearTimeout(timer);
    record.listeners.delete(arm);
  }
  const output =
    `\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  if (hung) {
    assert.fail(
      `${record.label} printed its output but had not exited ${grace} ms later (killed)${output}`,
    );
  }
  if (result.code !== 0) {
    assert.fail(
      `${record.label} ended with ${
        result.signal ?? `exit code ${result.code}`
      }, expected exit code 0${output}`,
    );
  }
  return result.stdout.trim();
}

/** Runs a peer to completion (stdin closed) and returns what it printed. */
export function runPeer(
  runtime: Runtime | "exec",
  script: string,
  args: readonly string[] = [],
  options: PeerOptions & { timeout?: number } = {},
): Promise<PeerResult> {
  const child = startPeer(runtime, script, args, options);
  child.stdin?.end();
  return finished(child, options.timeout);
}

/**
 * Runs a peer to completion (stdin closed), asserts that it exited with
 * code 0 (see {@link succeeded}) and returns its stdout, trimmed.
 */
export function runPeerOk(
  runtime: Runtime | "exec",
  script: string,
  args: readonly string[] = [],
  options: PeerOptions & { timeout?: number; grace?: number } = {},
): Promise<string> {
  const child = startPeer(runtime, script, args, options);
  child.stdin?.end();
  return succeeded(child, options);
}

/**
 * Resolves with the next line a peer prints on stdout (the first, on the
 * first call): a readiness handshake. Rejects if the peer exits first.
 */
export function nextLine(child: ChildProcess): Promise<string> {
  const record = recordOf(child);
  const index = record.linesTaken++;
  return new Promise((resolve, reject) => {
    const check = () => {
      const lines = record.stdout.split("\n");
      if (lines.length - 1 > index) {
        record.listeners.delete(check);
        resolve(lines[index]);
      } else if (record.result) {
        record.listeners.delete(check);
        const r = record.result;
        reject(
          new Error(
            `${record.label} ended (${
              r.signal ?? `exit code ${r.code}`
            }) before printing line ${
              index + 1
            }\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
          ),
        );
      }
    };
    record.listeners.add(check);
    record.exit.catch((error) => {
      record.listeners.delete(check);
      reject(error);
    });
    check();
  });
}

/** What a peer has printed so far. */
export interface PeerOutput {
  /** Its complete stdout lines (once it exited, an unterminated last one too). */
  lines: string[];
  stderr: string;
}

/** What a peer has printed so far. */
export function outputOf(child: ChildProcess): PeerOutput {
  const record = recordOf(child);
  const lines = record.stdout.split("\n");
  const last = lines.pop()!;
  if (record.result && last !== "") lines.push(last);
  return { lines, stderr: record.stderr };
}

/**
 * Resolves with what a peer has printed once `done(lines)` holds for its
 * stdout lines (checked on each output). Rejects when the peer exits first,
 * or when `timeout` ms pass: then it kills the peer.
 */
export function outputUntil(
  child: ChildProcess,
  done: (lines: string[]) => boolean,
  timeout = 20_000,
): Promise<PeerOutput> {
  const record = recordOf(child);
  return new Promise((resolve, reject) => {
    const fail = (what: string) => {
      const { lines, stderr } = outputOf(child);
      finish(
        new Error(
          `${record.label} ${what}\n--- stdout ---\n${
            lines.join("\n")
          }\n--- stderr ---\n${stderr}`,
        ),
      );
    };
    const finish = (error?: Error) => {
      clearTimeout(timer);
      record.listeners.delete(check);
      if (error) reject(error);
      else resolve(outputOf(child));
    };
    const check = () => {
      if (done(outputOf(child).lines)) finish();
      else if (record.result) {
        const r = record.result;
        fail(
          `ended (${
            r.signal ?? `exit code ${r.code}`
          }) before the expected output`,
        );
      }
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(`printed no expected output in ${timeout} ms (killed)`);
    }, timeout);
    record.listeners.add(check);
    record.exit.catch(finish);
    check();
  });
}

/**
 * Sends `signal` to a peer that is meant to survive it. Not
 * `child.kill(signal)`: Deno's node:child_process then reports the peer as
 * killed by that signal even when it handled the signal and exited with 0.
 */
export function signalPeer(child: ChildProcess, signal: NodeJS.Signals): void {
  if (hasExited(child)) return;
  process.kill(child.pid!, signal);
}

/**
 * Sends `signal` to a peer (see {@link signalPeer}) every `every` ms until
 * it prints its next line, for at most `limit` ms, and returns that line
 * (see {@link nextLine}).
 */
export async function signalUntilLine(
  child: ChildProcess,
  signal: NodeJS.Signals,
  every = 50,
  limit = 5000,
): Promise<string> {
  const line = nextLine(child);
  let stop = false;
  line.finally(() => (stop = true)).catch(() => {});
  const start = performance.now();
  while (!stop && performance.now() - start < limit) {
    await new Promise((r) => setTimeout(r, every));
    if (!stop) signalPeer(child, signal);
  }
  return await line;
}

/**
 * Sends `signal` to a peer `times` times, `every` ms apart, starting `every`
 * ms from now, then waits `every` ms more.
 */
export async function signalRepeatedly(
  child: ChildProcess,
  signal: NodeJS.Signals,
  times: number,
  every: number,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    await new Promise((r) => setTimeout(r, every));
    signalPeer(child, signal);
  }
  await new Promise((r) => setTimeout(r, every));
}

/** Whether a peer has exited. */
export function hasExited(child: ChildProcess): boolean {
  const record = recordOf(child);
  return record.exitedAt !== undefined || record.result !== undefined;
}

/**
 * Kills (SIGKILL) every peer still running and waits until they are gone:
 * `afterEach(killPeers)` in each test file that starts peers, so a failing
 * test leaves none behind. Returns how many it killed.
 */
export async function killPeers(): Promise<number> {
  const alive = [...LIVE];
  for (const child of alive) child.kill("SIGKILL");
  await Promise.all(alive.map((child) => recordOf(child).exit.catch(() => {})));
  return alive.length;
}

const BUILT = new Map<string, string>();

/**
 * Builds a C program from `tests/helpers/c/<name>.c` (once per process)
 * with the system gcc and returns the executable's path, in
 * `$TMPDIR/ipckit-c-<uid>/`, named after {@link RUN_PREFIX} so that
 * `npm test` deletes what its run built.
 */
export function buildC(name: string, extra: readonly string[] = []): string {
  const key = [name, ...extra].join(" ");
  const built = BUILT.get(key);
  if (built !== undefined && existsSync(built)) return built;
  const source = `${ROOT}tests/helpers/c/${name}.c`;
  const dir = `${tmpdir()}/ipckit-c-${process.getuid?.() ?? 0}`;
  mkdirSync(dir, { recursive: true });
  const out = `${dir}/${RUN_PREFIX}-${name}-${process.pid}-${
    Math.random().toString(36).slice(2)
  }`;
  execFileSync("gcc", ["-O2", "-Wall", "-o", out, source, ...extra, "-lrt"], {
    stdio: "pipe",
    env: peerEnv(),
  });
  BUILT.set(key, out);
  return out;
}

/** A random POSIX object name for a test: `/<RUN_PREFIX>_<random>`. */
export function testName(): string {
  return `/${RUN_PREFIX}_${
    crypto.randomUUID().replaceAll("-", "").slice(0, 16)
  }`;
}

/** A fresh directory under $TMPDIR named after the run; remove it in `finally`. */
export function testDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `${RUN_PREFIX}-${label}-`));
}

/**
 * The 15 bits of System V keys that mark this run's objects:
 * `IPCKIT_TEST_KEY_BITS` (`npm test` sets it and its leak check looks for
 * them), else random per process.
 */
export const RUN_KEY_BITS: number = (() => {
  const bits = process.env.IPCKIT_TEST_KEY_BITS;
  if (bits === undefined) return Math.floor(Math.random() * 0x8000);
  const value = Number(bits);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fff) {
    throw new Error(`IPCKIT_TEST_KEY_BITS must be 0 to 32767, got ${bits}`);
  }
  return value;
})();

/**
 * A random System V key of this run (never 0): bits 16-30 are
 * {@link RUN_KEY_BITS}, bit 31 is set when `high` (a key above 2^31).
 */
export function testKey(high = false): number {
  const low = 1 + Math.floor(Math.random() * 0xfffe);
  return ((high ? 0x80000000 : 0) | (RUN_KEY_BITS << 16) | low) >>> 0;
}

/**
 * `test()` for a test that needs root (switching to nobody, raising limits
 * beyond /proc/sys/fs/mqueue): run by root, skipped with its reason printed
 * for anyone else.
 */
export function rootTest(
  name: string,
  why: string,
  fn: () => void | Promise<void>,
): void {
  if (IS_ROOT) {
    test(name, fn);
    return;
  }
  const reason = `needs root: ${why}`;
  console.log(`SKIP ${name}: ${reason}`);
  test(name, { skip: reason }, fn);
}
