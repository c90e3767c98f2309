// The ipckit tour: `npm run demo` (or `deno task demo`, `bun run
// examples/tour.ts`). It starts one Deno and one Bun peer process, visits
// every stop of every module (examples/_tour_modules.ts), prints a table,
// then the example programs each module points to (its `examples`), and
// exits non-zero if any stop failed. Every object a stop creates is removed
// when the stop ends; the peers are stopped in `finally`.
//
// Adding a module: write examples/tour_<module>.ts exporting a TourModule
// (its stops plus the peer operations they call) and list it in
// examples/_tour_modules.ts.
import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  check,
  type Peer,
  RUNTIME,
  type Runtime,
  type Stop,
  type TourContext,
} from "./_tour.ts";
import { MODULES } from "./_tour_modules.ts";

const PEER_SCRIPT = fileURLToPath(new URL("./tour_peer.ts", import.meta.url));
const START_TIMEOUT = 15_000;
const CALL_TIMEOUT = 5_000;
const STOP_TIMEOUT = 12_000;

function binary(runtime: Runtime): string {
  // The npm packages' binaries (there is no node_modules/.bin: see .npmrc).
  const local = fileURLToPath(
    new URL(
      runtime === "deno"
        ? "../node_modules/deno/deno"
        : "../node_modules/bun/bin/bun.exe",
      import.meta.url,
    ),
  );
  return existsSync(local) ? local : runtime;
}

function peerCommand(runtime: Runtime): [string, string[]] {
  return runtime === "deno"
    ? [binary("deno"), ["run", "-A", "--quiet", PEER_SCRIPT]]
    : [binary("bun"), ["run", PEER_SCRIPT]];
}

// ---- peers -------------------------------------------------------------------

interface Pending {
  resolve(value: unknown): void;
  reject(reason: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

class PeerProcess implements Peer {
  readonly runtime: Runtime;
  readonly child: ChildProcess;
  pid = 0;
  version = "?";
  readonly ready: Promise<void>;
  #next = 1;
  #pending = new Map<number, Pending>();
  #stderr = "";
  #exited: Error | undefined;
  #exit: Promise<void>;

  constructor(runtime: Runtime) {
    this.runtime = runtime;
    const [command, args] = peerCommand(runtime);
    this.child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-2000);
    });
    let announced: (() => void) | undefined;
    let failed: ((e: Error) => void) | undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      announced = resolve;
      failed = reject;
    });
    const timer = setTimeout(
      () => failed!(new Error(`${runtime} peer did not start in time`)),
      START_TIMEOUT,
    );
    this.ready.then(() => clearTimeout(timer), () => clearTimeout(timer));
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line);
      } catch {
        return; // not ours: ignore stray output
      }
      if (message.ready) {
        this.pid = message.pid as number;
        this.version = message.version as string;
        announced!();
        return;
      }
      const pending = this.#pending.get(message.id as number);
      if (pending === undefined) return;
      this.#pending.delete(message.id as number);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${runtime} peer: ${message.error}`));
    });
    this.#exit = new Promise<void>((resolve) => {
      const onEnd = (code: number | null, signal: string | null) => {
        const tail = this.#stderr.trim().split("\n").slice(-3).join(" | ");
        this.#exited = new Error(
          `${runtime} peer exited (${signal ?? code})${
            tail ? `: ${tail}` : ""
          }`,
        );
        failed!(this.#exited);
        for (const pending of this.#pending.values()) {
          clearTimeout(pending.timer);
          pending.reject(this.#exited);
        }
        this.#pending.clear();
        resolve();
      };
      this.child.on("exit", onEnd);
      this.child.on(
        "error",
        (e) => onEnd(null, `${e.message}; is node_modules installed?`),
      );
    });
  }

  call<T = unknown>(
    op: string,
    args: unknown = {},
    timeout = CALL_TIMEOUT,
  ): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new Error(`${this.runtime} peer: ${op} took over ${timeout} ms`),
        );
      }, timeout);
      this.#pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
      });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + "\n");
    });
  }

  /** Closes the peer's stdin (it exits), then kills it if it lingers. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 1000);
    await this.#exit;
    clearTimeout(timer);
  }
}

// ---- the table ---------------------------------------------------------------

const WIDTHS = { stop: 17, from: 5, to: 5, what: 68, result: 6 };

function row(
  stop: string,
  from: string,
  to: string,
  what: string,
  result: string,
  time: string,
): string {
  return [
    stop.padEnd(WIDTHS.stop),
    from.padEnd(WIDTHS.from),
    to.padEnd(WIDTHS.to),
    what.padEnd(WIDTHS.what),
    result.padEnd(WIDTHS.result),
    time.padStart(8),
  ].join(" ");
}

async function visit(stop: Stop, context: TourContext): Promise<boolean> {
  const start = performance.now();
  let ok = true;
  let what = stop.what;
  let reason = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const detail = await Promise.race([
      stop.run(context),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`did not finish in ${STOP_TIMEOUT} ms`)),
          STOP_TIMEOUT,
        );
      }),
    ]);
    if (typeof detail === "string") what = detail;
  } catch (e) {
    ok = false;
    reason = (e as Error)?.message ?? String(e);
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - start;
  console.log(
    row(
      stop.name,
      stop.from,
      stop.to,
      what,
      ok ? "ok" : "FAILED",
      `${ms.toFixed(0)} ms`,
    ),
  );
  if (!ok) console.log(`${" ".repeat(WIDTHS.stop + 1)}└ ${reason}`);
  return ok;
}

// ---- the tour ----------------------------------------------------------------

function listShm(): Set<string> {
  try {
    return new Set(readdirSync("/dev/shm"));
  } catch {
    return new Set();
  }
}

function shmUnchanged(before: Set<string>): Stop {
  return {
    name: "tour/cleanup",
    from: "-",
    to: "-",
    what: "/dev/shm holds nothing new; peers have exited",
    async run() {
      // What the tour could have left: its temporary() objects (/ipckit_<32
      // hex>, semaphores as sem.<name>), never the test suite's
      // (ipckit_test_*, which another job may be making right now). Another
      // program's short-lived temporaries are gone after a moment; the
      // tour's own leftovers stay.
      const ours = /^(sem\.)?ipckit_[0-9a-f]{32}$/;
      const added = () =>
        [...listShm()].filter((name) => !before.has(name) && ours.test(name));
      let left = added();
      if (left.length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const still = new Set(added());
        left = left.filter((name) => still.has(name));
      }
      check(left.length === 0, `left in /dev/shm: ${left.join(", ")}`);
    },
  };
}

/**
 * The closing list: the example programs every module points to, to read
 * and run next (Deno needs `--allow-ffi`, Bun nothing).
 */
function printExamples(): void {
  const examples = MODULES.flatMap((m) => m.examples ?? []);
  if (examples.length === 0) return;
  console.log(
    "\nThe table shows what was checked. To learn the API, read and run these" +
      "\nprograms (examples/README.md tells more; under Deno, `deno run" +
      "\n--allow-ffi` in place of `bun run`):\n",
  );
  const width = Math.max(...examples.map((e) => e.file.length));
  for (const example of examples) {
    console.log(`  ${example.file.padEnd(width)}  ${example.what}`);
    if (example.run) console.log(`  ${" ".repeat(width)}  $ ${example.run}`);
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  const shmBefore = listShm();
  const peers = new Map<Runtime, PeerProcess>();
  const deferred: (() => void | Promise<void>)[] = [];
  const context: TourContext = {
    peer: (runtime) => peers.get(runtime)!,
    defer: (cleanup) => void deferred.push(cleanup),
  };
  const stops = MODULES.flatMap((m) => m.stops);
  let passed = 0;
  let total = 0;
  const runtimeVersion =
    (globalThis as { Deno?: { version: { deno: string } } })
      .Deno?.version.deno ??
      (globalThis as { Bun?: { version: string } }).Bun?.version;
  console.log(`ipckit tour (this process: ${RUNTIME} ${runtimeVersion})`);
  try {
    for (const runtime of ["deno", "bun"] as const) {
      peers.set(runtime, new PeerProcess(runtime));
    }
    const starts = await Promise.allSettled(
      [...peers.values()].map((p) => p.ready),
    );
    const names = [...peers.values()].map((p, i) =>
      starts[i].status === "fulfilled"
        ? `${p.runtime} ${p.version} (pid ${p.pid})`
        : `${p.runtime} FAILED TO START: ${
          (starts[i] as PromiseRejectedResult).reason?.message
        }`
    );
    console.log(`peers: ${names.join(", ")}\n`);
    console.log(row("stop", "from", "to", "checked", "result", "time"));
    console.log("-".repeat(
      WIDTHS.stop + WIDTHS.from + WIDTHS.to +
        WIDTHS.what + WIDTHS.result + 8 + 5,
    ));
    for (const stop of stops) {
      total++;
      if (await visit(stop, context)) passed++;
    }
  } finally {
    await Promise.all([...peers.values()].map((p) => p.stop()));
    for (const cleanup of deferred.reverse()) {
      try {
        await cleanup();
      } catch (e) {
        console.error(`clean-up failed: ${(e as Error).message}`);
      }
    }
  }
  total++;
  if (await visit(shmUnchanged(shmBefore), context)) passed++;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    passed === total
      ? `\nall ${total} stops ok in ${seconds} s`
      : `\n${total - passed} of ${total} stops FAILED (${seconds} s)`,
  );
  printExamples();
  return passed === total ? 0 : 1;
}

process.exit(await main());
