import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline, PipelineError } from "../../pipe/mod.ts";
import { killPeers, testDir } from "../helpers/peer.ts";
import { assertDomError } from "../helpers/assert.ts";

afterEach(killPeers);

const text = (data: Uint8Array) => new TextDecoder().decode(data);

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is dead
  } catch {
    return false;
  }
}

function ownPipeInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`);
      if (link.startsWith("pipe:")) inodes.add(link);
    } catch { /* closed meanwhile */ }
  }
  return inodes;
}

test('pipeline([["sort"], ["uniq", "-c"], ["wc", "-l"]]) gives the output and every stage', async () => {
  const result = await pipeline([["sort"], ["uniq", "-c"], ["wc", "-l"]], {
    input: "pear\napple\npear\nfig\n",
  });
  assert.equal(text(result.output).trim(), "3");
  assert.deepEqual(
    result.stages.map((s) => [s.command, s.code, s.signal]),
    [[["sort"], 0, null], [["uniq", "-c"], 0, null], [["wc", "-l"], 0, null]],
  );
  for (const s of result.stages) assert.ok(s.pid! > 0);
});

test("pipeline stages are joined by kernel pipes that this process does not hold", async () => {
  const dir = testDir("pipeline");
  try {
    const report = join(dir, "links");
    // Each stage records its own stdin and stdout (the shell's $$), then
    // becomes cat; the last one waits for our check before it exits.
    const stage = (i: number) => [
      "sh",
      "-c",
      `echo "${i} $(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/1)" >> ${report}; exec cat`,
    ];
    const seenBefore = ownPipeInodes();
    let seenDuring: Set<string> | undefined;
    const input = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // Wait until the three stages wrote their links, then look at ours.
        for (let i = 0; i < 500; i++) {
          let lines: string[] = [];
          try {
            lines = readFileSync(report, "utf8").trim().split("\n");
          } catch { /* not yet */ }
          if (lines.length === 3) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        seenDuring = ownPipeInodes();
        controller.enqueue(new TextEncoder().encode("payload\n"));
        controller.close();
      },
    });
    const result = await pipeline([stage(1), stage(2), stage(3)], { input });
    assert.equal(text(result.output), "payload\n");
    const links = new Map<number, [string, string]>();
    for (const line of readFileSync(report, "utf8").trim().split("\n")) {
      const [i, stdin, stdout] = line.split(" ");
      links.set(Number(i), [stdin!, stdout!]);
    }
    const [in1, out1] = links.get(1)!;
    const [in2, out2] = links.get(2)!;
    const [in3, out3] = links.get(3)!;
    for (const link of [in1, out1, in2, out2, in3, out3]) {
      assert.match(link, /^pipe:\[\d+\]$/);
    }
    assert.equal(out1, in2, "stage 1 writes the pipe stage 2 reads");
    assert.equal(out2, in3, "stage 2 writes the pipe stage 3 reads");
    assert.equal(new Set([in1, out1, out2, out3]).size, 4);
    // The links between stages are not open in this process: no byte
    // between two stages can pass through it.
    assert.ok(seenDuring !== undefined);
    for (const link of [out1, out2]) {
      assert.ok(!seenDuring.has(link), `${link} is open in this process`);
    }
    // The input and output pipes are ours (read and written natively).
    assert.ok(seenDuring.has(in1) && seenDuring.has(out3));
    assert.ok(!seenBefore.has(in1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pipeline: a failed last stage rejects; pipefail rejects on any stage; otherwise it is reported", async () => {
  const ok = await pipeline([["sh", "-c", "echo x; exit 3"], ["cat"]]);
  assert.equal(text(ok.output), "x\n");
  assert.equal(ok.stages[0]!.code, 3);
  await assert.rejects(
    pipeline([["sh", "-c", "echo x; exit 3"], ["cat"]], { pipefail: true }),
    (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.equal(e.stages[0]!.code, 3);
      assert.equal(text(e.output), "x\n");
      assert.match(e.message, /stage 1 \(sh -c .*\) exited with 3/);
      return true;
    },
  );
  await assert.rejects(
    pipeline([["echo", "y"], ["sh", "-c", "cat; exit 5"]]),
    (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.equal(e.stages[1]!.code, 5);
      assert.equal(text(e.output), "y\n");
      return true;
    },
  );
  // yes | head -2: yes dies of SIGPIPE, as in a shell.
  const heads = await pipeline([["yes"], ["head", "-2"]]);
  assert.equal(text(heads.output), "y\ny\n");
  assert.equal(heads.stages[0]!.signal, "SIGPIPE");
});

test("pipeline: aborting kills every stage and leaves no process behind", async () => {
  const controller = new AbortController();
  const dir = testDir("pipeline-abort");
  try {
    const pids = join(dir, "pids");
    const stage = ["sh", "-c", `echo $$ >> ${pids}; exec sleep 30`];
    const running = pipeline([stage, stage, stage], {
      signal: controller.signal,
    });
    let list: number[] = [];
    for (let i = 0; i < 500 && list.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        list = readFileSync(pids, "utf8").trim().split("\n").map(Number);
      } catch { /* not yet */ }
    }
    assert.equal(list.length, 3);
    controller.abort();
    await assert.rejects(running, assertDomError("AbortError"));
    for (const pid of list) assert.equal(alive(pid), false, `stage ${pid}`);
    // An already aborted signal starts nothing.
    await assert.rejects(
      pipeline([["sleep", "30"]], { signal: AbortSignal.abort() }),
      assertDomError("AbortError"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pipeline: a program that cannot start rejects, after the other stages are gone", async () => {
  await assert.rejects(
    pipeline([["sleep", "30"], ["ipckit-no-such-program"], ["cat"]]),
    (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(!(e instanceof PipelineError));
      return true;
    },
  );
});

test("pipeline: input as bytes and as a stream, cwd and env, bad input", async () => {
  const bytes = await pipeline([["wc", "-c"]], {
    input: new Uint8Array(12345),
  });
  assert.equal(text(bytes.output).trim(), "12345");
  const big = new Uint8Array(3 << 20).fill(65);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < big.length; at += 1 << 20) {
        controller.enqueue(big.subarray(at, at + (1 << 20)));
      }
      controller.close();
    },
  });
  const streamed = await pipeline([["cat"], ["wc", "-c"]], { input: stream });
  assert.equal(text(streamed.output).trim(), String(3 << 20));
  const where = await pipeline([["pwd"]], { cwd: "/tmp" });
  assert.equal(text(where.output).trim(), "/tmp");
  const env = await pipeline([["sh", "-c", "echo $IPCKIT_X"]], {
    env: { IPCKIT_X: "set", PATH: "/usr/bin:/bin" },
  });
  assert.equal(text(env.output).trim(), "set");
  const broken = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Error("input broke"));
    },
  });
  await assert.rejects(pipeline([["cat"]], { input: broken }), /input broke/);
  const none = await pipeline([["cat"]]); // stdin is /dev/null
  assert.equal(none.output.length, 0);
  await assert.rejects(pipeline([]), TypeError);
  await assert.rejects(pipeline([[]]), TypeError);
  await assert.rejects(pipeline([["cat", 1 as never]]), TypeError);
  await assert.rejects(pipeline("cat" as never), TypeError);
  await assert.rejects(pipeline([["cat"]], { input: 5 as never }), TypeError);
  await assert.rejects(
    pipeline([["cat"]], { pipefail: "yes" as never }),
    TypeError,
  );
});
