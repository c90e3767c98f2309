// The tour's pipe stops, and the peer operations they use: each runtime
// hands pipe ends to a child process, survives writing to a closed pipe, and
// runs a pipeline of real processes joined by kernel pipes.
import { spawn } from "node:child_process";
import { createPipe, IpcError, pipeline } from "../pipe/mod.ts";
import {
  check,
  type PeerOp,
  type Runtime,
  type Stop,
  type TourModule,
} from "./_tour.ts";

const decoder = new TextDecoder();

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Runs `tr a-z A-Z` on two pipe ends (stdin, and stdout as fd 3). */
  "pipe.child": async ({ text }: { text: string }) => {
    const input = createPipe();
    const output = createPipe();
    const child = spawn("sh", ["-c", "tr a-z A-Z >&3"], {
      stdio: [input.reader.fd, "ignore", "inherit", output.writer.fd],
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", resolve)
    );
    input.reader.close();
    output.writer.close();
    await input.writer.write(text);
    input.writer.close();
    const upper = await new Response(output.reader.readable).text();
    return { upper, code: await exited };
  },

  /** Writes to a pipe whose reader is closed; returns the error code. */
  "pipe.epipe": () => {
    const { reader, writer } = createPipe();
    reader.close();
    try {
      writer.writeSync("nobody reads this");
      return Promise.resolve("wrote");
    } catch (e) {
      return Promise.resolve(e instanceof IpcError ? e.code : String(e));
    } finally {
      writer.close();
    }
  },
};

// ---- stops -------------------------------------------------------------------

function child(runtime: Runtime): Stop {
  return {
    name: "pipe/child",
    from: runtime,
    to: "sh",
    what:
      "pipe ends as a child's stdin and fd 3: the text comes back upper-cased",
    async run(tour) {
      const text = `hello from ${runtime}\n`;
      const r = await tour.peer(runtime).call<
        { upper: string; code: number }
      >("pipe.child", { text });
      check(r.upper === text.toUpperCase(), `got ${JSON.stringify(r.upper)}`);
      check(r.code === 0, `tr exited with ${r.code}`);
    },
  };
}

function epipe(runtime: Runtime): Stop {
  return {
    name: "pipe/epipe",
    from: runtime,
    to: "-",
    what:
      "writing after the reader closed is IpcError EPIPE; the process lives",
    async run(tour) {
      const code = await tour.peer(runtime).call<string>("pipe.epipe");
      check(code === "EPIPE", `got ${code}`);
      // Still alive and answering:
      check(
        (await tour.peer(runtime).call<string>("pipe.epipe")) === "EPIPE",
        "the peer did not answer twice",
      );
    },
  };
}

const stages: Stop = {
  name: "pipe/pipeline",
  from: "-",
  to: "-",
  what: "sort | uniq -c | sort -rn: three processes joined by kernel pipes",
  async run() {
    const words = "pipe fifo pipe socket pipe fifo\n".replaceAll(" ", "\n");
    const { output, stages } = await pipeline(
      [["sort"], ["uniq", "-c"], ["sort", "-rn"]],
      { input: words },
    );
    const lines = decoder.decode(output).trim().split("\n").map((l) =>
      l.trim().replace(/\s+/, " ")
    );
    check(lines[0] === "3 pipe", `first line ${JSON.stringify(lines[0])}`);
    check(stages.every((s) => s.code === 0), "a stage failed");
    return `sort | uniq -c | sort -rn → ${lines.join(", ")} (pids ${
      stages.map((s) => s.pid).join(", ")
    })`;
  },
};

/** The pipe part of the tour. */
export const pipe: TourModule = {
  examples: [
    {
      file: "pipe/README.md",
      what:
        "a pipe to a child process, and pipelines: runnable two-process programs",
    },
  ],
  stops: [
    child("deno"),
    child("bun"),
    epipe("deno"),
    epipe("bun"),
    stages,
  ],
  ops,
};
