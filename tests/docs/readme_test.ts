// Every code block of every README runs as written.
//
// The runner finds README.md at the root and in every top-level folder (a
// new module's README is picked up without listing it), takes out its
// ```ts blocks, writes each to a file in a fresh directory outside the
// repository and runs it as a program in a child process: under `deno test`
// with Deno, under `bun test` with Bun. Deno gets exactly the permission
// flags the root README's module table documents for the modules the block
// imports (`--allow-ffi`, never `--allow-all`), `--no-prompt` and the
// repository's deno.json (its import map resolves `@ipckit/ipc/mq`); Bun
// gets a tsconfig.json beside the file whose `paths` do the same. A block
// passes when it exits 0 and leaves no shared memory, semaphore, message
// queue, System V object or file behind (objects it names, or System V ones
// its processes made; see _objects.ts). Its working directory is an empty
// folder that must be empty again afterwards. Every block, ignored ones
// aside, must also type-check (`deno check --doc-only`).
//
// Marking blocks (sparingly: prefer complete programs):
//
//   ```ts ignore
//       A fragment that is not a program (a line of a table to copy): not
//       run. Shell, output and other languages are never run.
//
//   <!-- doctest: before-next -->
//   ```ts
//       On the line before a block: run it to the end, then the next ts
//       block (a writer, then a reader). The chain passes when both do.
//
//   <!-- doctest: beside-next -->
//   ```ts
//       Start this block, wait for its first line on stdout (its "ready"),
//       then run the next ts block; this one must then exit 0 as well (a
//       receiver beside a sender). The next block runs under the other
//       runtime, so Deno and Bun meet through the same object.
//
// Markers chain (before-next then beside-next then a plain block). The
// leftover check runs after the whole chain.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import {
  CURRENT,
  finished,
  killPeers,
  nextLine,
  RUN_PREFIX,
  type Runtime,
  startPeer,
} from "../helpers/peer.ts";
import {
  bunTsconfig,
  chainsOf,
  denoBinary,
  type DocBlock,
  documentedFlags,
  flagsFor,
  readmeFiles,
  runCommand,
} from "./_readme.ts";
import { leftBehind, snapshot } from "./_objects.ts";

const TIMEOUT = 30_000;
let dir = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}-readme-`));
  writeFileSync(join(dir, "tsconfig.json"), bunTsconfig());
});
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killPeers);

const table = documentedFlags();

test("the root README's module table gives every module's Deno permissions", () => {
  for (const file of readmeFiles()) {
    const module = /^(\w+)\/README\.md$/.exec(file)?.[1];
    if (module === undefined || module === "examples") continue;
    assert.ok(
      table.has(module),
      `${module}/ has a README but no row (with its Deno permissions) in the root README's module table`,
    );
  }
  for (const [module, flags] of table) {
    assert.ok(!flags.includes("--allow-all"), `${module}: --allow-all`);
  }
});

test("every README's ts blocks type-check (deno check --doc-only)", async () => {
  const child = startPeer("exec", denoBinary(), [
    "check",
    "--doc-only",
    "--quiet",
    ...readmeFiles(),
  ]);
  child.stdin?.end();
  const result = await finished(child, 120_000);
  assert.equal(
    result.code,
    0,
    `deno check --doc-only:\n${result.stdout}\n${result.stderr}`,
  );
});

function describe(block: DocBlock): string {
  return `${block.file}:${block.line}`;
}

interface Running {
  block: DocBlock;
  child: ChildProcess;
  runtime: Runtime;
}

function start(block: DocBlock, runtime: Runtime, work: string): Running {
  const file = join(dir, `block_${block.line}_${runtime}.ts`);
  writeFileSync(file, block.source);
  const [cmd, args] = runCommand(runtime, file, flagsFor(block.source, table));
  // "exec": the peer helpers track it (killPeers) and add no flags; env
  // gives it its own working directory.
  const child = startPeer("exec", cmd, args, {
    wrap: ["env", `--chdir=${work}`],
  });
  return { block, child, runtime };
}

async function expectSuccess(run: Running): Promise<void> {
  const result = await finished(run.child, TIMEOUT);
  assert.equal(
    result.code,
    0,
    `${describe(run.block)} under ${run.runtime} ended with ${
      result.signal ?? `exit code ${result.code}`
    }\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
  );
}

test("the runner sees a block that leaves an object behind, or fails", async () => {
  const name = `/${RUN_PREFIX}_readme_leak`;
  const block: DocBlock = {
    file: "(this test)",
    line: 1,
    info: [],
    marker: undefined,
    source: `import { SharedMemory } from "@ipckit/ipc/shm";
SharedMemory.open("${name}", { create: true, size: 4096 }).close();
throw new Error("planned failure");
`,
  };
  const work = join(dir, "work_leak");
  mkdirSync(work);
  const objects = snapshot();
  const run = start(block, CURRENT, work);
  await assert.rejects(expectSuccess(run), /planned failure/);
  const left = leftBehind(objects, snapshot(), block.source, []);
  for (const o of left) o.remove();
  rmSync(work, { recursive: true, force: true });
  assert.deepEqual(left.map((o) => o.what), [`shm ${name.slice(1)}`]);
});

const other = (runtime: Runtime): Runtime =>
  runtime === "deno" ? "bun" : "deno";

for (const file of readmeFiles()) {
  for (const chain of chainsOf(file)) {
    const first = chain.blocks[0]!;
    const lines = chain.blocks.map((b) => b.line).join("+");
    test(`${file}:${lines} runs under ${CURRENT} and leaves nothing behind`, async () => {
      const work = join(dir, `work_${lines}`);
      mkdirSync(work);
      const objects = snapshot();
      const pids: number[] = [];
      const alongside: Running[] = [];
      let runtime: Runtime = CURRENT;
      try {
        for (const block of chain.blocks) {
          const run = start(block, runtime, work);
          if (run.child.pid !== undefined) pids.push(run.child.pid);
          if (block.marker === "beside-next") {
            await nextLine(run.child);
            alongside.push(run);
            runtime = other(runtime);
          } else {
            await expectSuccess(run);
          }
        }
        for (const run of alongside) await expectSuccess(run);
      } finally {
        await killPeers();
        const left = leftBehind(
          objects,
          snapshot(),
          chain.blocks.map((b) => b.source).join("\n"),
          pids,
        );
        for (const o of left) o.remove();
        const files = readdirSync(work);
        rmSync(work, { recursive: true, force: true });
        assert.deepEqual(
          left.map((o) => o.what),
          [],
          `${describe(first)} left IPC objects behind (now removed)`,
        );
        assert.deepEqual(files, [], `${describe(first)} left files behind`);
      }
    });
  }
}
