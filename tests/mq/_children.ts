// Child processes for the mq tests: stdout collected line by line from the
// start, waits that fail (rather than hang) when a child exits or takes too
// long, and a kill for every child still running (call it in `finally`).
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { peerCommand, type Runtime } from "../helpers/peer.ts";

/** The peer script of the mq tests. */
export const PEER = "tests/mq/mq_test_peer.ts";

/** A running child and what it has printed so far. */
export interface Child {
  readonly process: ChildProcess;
  /** Complete stdout lines so far. */
  readonly lines: string[];
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal name) once the child is gone. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /**
   * Resolves once `done(lines)` holds; rejects when the child exits first
   * or `timeout` ms pass (the child is then killed).
   */
  until(done: (lines: string[]) => boolean, timeout?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

function environment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== "FORCE_COLOR") env[key] = value;
  }
  env.NO_COLOR = "1";
  return env;
}

/** Starts `cmd args` (stdin closed) and collects its output. */
export function launch(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string } = {},
): Child {
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: environment(),
    cwd: options.cwd,
  });
  running.add(child);
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  let gone = false;
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    for (const listener of [...listeners]) listener();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>(
    (resolve) => {
      child.on("close", (code, signal) => {
        running.delete(child);
        if (partial !== "") lines.push(partial);
        partial = "";
        gone = true;
        for (const listener of [...listeners]) listener();
        resolve({ code, signal });
      });
    },
  );
  const label = `${cmd.split("/").at(-1)} ${args.join(" ")}`;
  return {
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    until(done, timeout = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const finish = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (done(lines)) finish();
          else if (gone) {
            finish(
              new Error(
                `${label} exited before the expected output\n--- stdout ---\n${
                  lines.join("\n")
                }\n--- stderr ---\n${stderr}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          finish(
            new Error(
              `${label}: no expected output after ${timeout} ms (killed)\n--- stdout ---\n${
                lines.join("\n")
              }\n--- stderr ---\n${stderr}`,
            ),
          );
        }, timeout);
        listeners.add(check);
        check();
      });
    },
  };
}

/** Starts the mq test peer under `runtime`. */
export function launchPeer(runtime: Runtime, args: readonly string[]): Child {
  const [cmd, argv] = peerCommand(runtime, PEER, args);
  return launch(cmd, argv);
}

/** Kills (SIGKILL) every child still running and waits until they are gone. */
export async function killChildren(): Promise<void> {
  const alive = [...running];
  await Promise.all(alive.map((child) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      child.once("close", () => resolve());
      child.kill("SIGKILL");
    })
  ));
}
