// Process pipelines: real processes joined by kernel pipes, as a shell joins
// them. Each stage gets its neighbour's pipe end as stdin or stdout through
// node:child_process (native in Deno and Bun), so no byte between two stages
// passes through JavaScript; only the input and the output do.
import { type ChildProcess, spawn } from "node:child_process";
import {
  checkBoolean,
  checkOptions,
  checkSignal,
  IpcError,
} from "../ffi/mod.ts";
import { createPipe, type Pipe } from "./pipe.ts";

/** Options of {@linkcode pipeline}. */
export interface PipelineOptions {
  /**
   * What the first stage reads on its stdin: bytes, a string (UTF-8) or a
   * stream of bytes. Without it the first stage reads `/dev/null`.
   * @default {undefined}
   */
  input?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Aborting kills every stage (`SIGKILL`) and rejects with the reason. */
  signal?: AbortSignal;
  /**
   * The stages' working directory.
   * @default {this process's}
   */
  cwd?: string;
  /**
   * The stages' environment, in place of this process's.
   * @default {this process's}
   */
  env?: Record<string, string>;
  /**
   * Fail when any stage fails, not only the last one (the shell's
   * `set -o pipefail`).
   * @default {false}
   */
  pipefail?: boolean;
  /**
   * Where the stages' stderr goes.
   * @default {"inherit"}
   */
  stderr?: "inherit" | "ignore";
}

/** How one stage of a pipeline ended. */
export interface PipelineStage {
  /** The command line it ran. */
  readonly command: readonly string[];
  /** Its process id (undefined when it could not start). */
  readonly pid: number | undefined;
  /** Its exit code, or `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it (`"SIGPIPE"`), or `null`. */
  readonly signal: string | null;
}

/** What a pipeline produced. */
export interface PipelineResult {
  /** Everything the last stage wrote to its stdout. */
  readonly output: Uint8Array;
  /** Every stage, in order, with how it ended. */
  readonly stages: readonly PipelineStage[];
}

/**
 * A pipeline whose last stage failed (or, with `pipefail`, any stage): it
 * carries the output and every stage's outcome.
 *
 * @example Telling which stage failed
 * ```ts
 * import { pipeline, PipelineError } from "@ipckit/ipc/pipe";
 *
 * try {
 *   await pipeline([["false"], ["cat"]], { pipefail: true });
 * } catch (e) {
 *   if (e instanceof PipelineError) console.log(e.stages[0]!.code); // 1
 * }
 * ```
 */
export class PipelineError extends Error {
  /** Everything the last stage wrote. */
  readonly output: Uint8Array;
  /** Every stage with how it ended. */
  readonly stages: readonly PipelineStage[];

  /**
   * Makes the error from a pipeline's result.
   *
   * @param result The output and the stages.
   */
  constructor(result: PipelineResult) {
    const failed = result.stages
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => s.code !== 0)
      .map(({ s, i }) =>
        `stage ${i + 1} (${s.command.join(" ")}) ${
          s.signal === null
            ? `exited with ${s.code}`
            : `was killed by ${s.signal}`
        }`
      );
    super(`Pipeline failed: ${failed.join("; ")}`);
    this.name = "PipelineError";
    this.output = result.output;
    this.stages = result.stages;
  }
}

function checkCommands(commands: unknown): string[][] {
  if (!Array.isArray(commands) || commands.length === 0) {
    throw new TypeError(
      'commands must be a non-empty array of command lines, such as [["sort"], ["uniq", "-c"]]',
    );
  }
  return commands.map((command, i) => {
    if (
      !Array.isArray(command) || command.length === 0 ||
      !command.every((part) => typeof part === "string") ||
      command[0] === ""
    ) {
      throw new TypeError(
        `commands[${i}] must be a non-empty array of strings (a program and its arguments)`,
      );
    }
    return [...command] as string[];
  });
}

function checkInput(input: unknown): PipelineOptions["input"] {
  if (
    input === undefined || typeof input === "string" ||
    input instanceof Uint8Array || input instanceof ReadableStream
  ) {
    return input;
  }
  throw new TypeError(
    "input must be a Uint8Array, a string or a ReadableStream of bytes",
  );
}

/**
 * Runs commands as one pipeline: real processes joined by kernel pipes
 * (`pipe2`), stage 1's stdout into stage 2's stdin and so on, as
 * `sort | uniq -c | wc -l` in a shell. Bytes between stages never pass
 * through JavaScript. `input` goes to the first stage; the last stage's
 * stdout is collected.
 *
 * Resolves when every stage has exited and the output reached EOF. Rejects
 * with {@linkcode PipelineError} when the last stage failed (with
 * `pipefail`, when any did). Aborting kills every stage with `SIGKILL` and
 * waits for them, so no process is left behind.
 *
 * @example Counting distinct lines
 * ```ts
 * import { pipeline } from "@ipckit/ipc/pipe";
 *
 * const { output, stages } = await pipeline(
 *   [["sort"], ["uniq"], ["wc", "-l"]],
 *   { input: "b\na\nb\n" },
 * );
 * console.log(new TextDecoder().decode(output).trim()); // 2
 * console.log(stages.map((s) => s.code)); // [ 0, 0, 0 ]
 * ```
 *
 * @param commands Each stage's program and arguments.
 * @param options `input`, `signal`, `cwd`, `env`, `pipefail`, `stderr`.
 * @returns The output and how each stage ended.
 * @throws {TypeError} Malformed commands or options.
 * @throws {PipelineError} A failed stage (see above).
 * @throws {Error} A program that cannot start (`ENOENT`), after the other
 *   stages were killed; the error of an `input` stream that failed.
 */
export async function pipeline(
  commands: readonly (readonly string[])[],
  options?: PipelineOptions,
): Promise<PipelineResult> {
  const lines = checkCommands(commands);
  const o = checkOptions(options);
  const input = checkInput(o.input);
  const signal = checkSignal(o.signal);
  const pipefail = checkBoolean(o.pipefail, "pipefail", false);
  const stderr = o.stderr ?? "inherit";
  if (stderr !== "inherit" && stderr !== "ignore") {
    throw new TypeError('stderr must be "inherit" or "ignore"');
  }
  signal?.throwIfAborted();

  const pipes: Pipe[] = [];
  const children: ChildProcess[] = [];
  let inputPipe: Pipe | undefined;
  let outputPipe: Pipe | undefined;
  const closeAll = () => {
    for (const p of pipes) p.close();
  };
  const exits: Promise<PipelineStage>[] = [];
  let spawnError: Error | undefined;
  const killAll = () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
      }
    }
    inputPipe?.writer.close();
    outputPipe?.reader.close();
  };
  try {
    if (input !== undefined) pipes.push(inputPipe = createPipe());
    const links: Pipe[] = [];
    for (let i = 0; i + 1 < lines.length; i++) {
      const link = createPipe();
      pipes.push(link);
      links.push(link);
    }
    pipes.push(outputPipe = createPipe());
    for (let i = 0; i < lines.length; i++) {
      const command = lines[i]!;
      const stdin = i === 0
        ? (inputPipe?.reader.fd ?? "ignore")
        : links[i - 1]!.reader.fd;
      const stdout = i === lines.length - 1
        ? outputPipe.writer.fd
        : links[i]!.writer.fd;
      const child = spawn(command[0]!, command.slice(1), {
        stdio: [stdin, stdout, stderr],
        ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
        ...(o.env === undefined ? {} : { env: o.env }),
      });
      children.push(child);
      exits.push(
        new Promise<PipelineStage>((resolve) => {
          let settled = false;
          child.once("error", (error) => {
            // It could not start (ENOENT, EACCES): the pipeline cannot
            // work, so every other stage goes too.
            spawnError ??= error;
            queueMicrotask(killAll);
            if (settled) return;
            settled = true;
            resolve({ command, pid: undefined, code: null, signal: null });
          });
          child.once("exit", (code, sig) => {
            if (settled) return;
            settled = true;
            resolve({ command, pid: child.pid, code, signal: sig });
          });
        }),
      );
    }
  } catch (error) {
    killAll();
    closeAll();
    await Promise.all(exits);
    throw error;
  }
  // The children hold their ends now: ours would keep EOF from coming.
  for (const link of pipes) {
    if (link === inputPipe) link.reader.close();
    else if (link === outputPipe) link.writer.close();
    else link.close();
  }

  const onAbort = () => killAll();
  signal?.addEventListener("abort", onAbort, { once: true });

  const stopFeeding = new AbortController();
  const feeding = feed(inputPipe, input, stopFeeding.signal);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reading = (async () => {
    const reader = outputPipe!.reader;
    for (;;) {
      const buffer = new Uint8Array(65536);
      const n = await reader.read(buffer);
      if (n === null) break;
      chunks.push(buffer.subarray(0, n));
      length += n;
    }
    reader.close();
  })();
  try {
    const [stages, read] = await Promise.all([
      Promise.all(exits),
      reading.then(() => undefined, (error: unknown) => error),
    ]);
    // Every stage is gone: an input stream that has not ended is cancelled.
    stopFeeding.abort();
    const fed = await feeding;
    if (signal?.aborted) throw signal.reason;
    if (spawnError !== undefined) throw spawnError;
    if (read !== undefined) throw read;
    if (fed !== undefined) throw fed;
    const output = new Uint8Array(length);
    let at = 0;
    for (const chunk of chunks) {
      output.set(chunk, at);
      at += chunk.length;
    }
    const result = { output, stages };
    const failed = pipefail
      ? stages.some((s) => s.code !== 0)
      : stages[stages.length - 1]!.code !== 0;
    if (failed) throw new PipelineError(result);
    return result;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stopFeeding.abort();
    killAll();
    closeAll();
  }
}

/**
 * Writes the input into the first stage, then closes it for EOF; returns
 * the input stream's error, if it failed.
 */
async function feed(
  pipe: Pipe | undefined,
  input: PipelineOptions["input"],
  stop: AbortSignal,
): Promise<unknown> {
  if (pipe === undefined || input === undefined) return undefined;
  const writer = pipe.writer;
  const onStop = () => writer.close();
  stop.addEventListener("abort", onStop, { once: true });
  try {
    if (input instanceof ReadableStream) {
      const reader = input.getReader();
      const cancel = () => void reader.cancel().catch(() => {});
      stop.addEventListener("abort", cancel, { once: true });
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writer.write(value);
        }
      } finally {
        stop.removeEventListener("abort", cancel);
        reader.releaseLock();
      }
    } else {
      await writer.write(input);
    }
  } catch (error) {
    // EPIPE: the first stage stopped reading (head does); EBADF: the
    // pipeline stopped feeding. The stages' outcomes tell what happened.
    // Anything else (the input stream failed) fails the pipeline.
    if (
      !(error instanceof IpcError &&
        (error.code === "EPIPE" || error.code === "EBADF"))
    ) {
      return error;
    }
  } finally {
    stop.removeEventListener("abort", onStop);
    writer.close();
  }
  return undefined;
}
