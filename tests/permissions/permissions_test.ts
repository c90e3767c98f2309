// Deno permissions as documented: the root README's module table gives each
// module's flags (tests/docs/_readme.ts reads it). Here, under Deno with
// exactly those flags and `--no-prompt`, never `--allow-all`:
//
// - every example in a module's documentation (the JSDoc examples of its
//   public files, through `deno test --doc`) runs; its README's examples
//   run under the same flags in tests/docs/;
// - each documented flag is needed: without it, some example of the
//   module fails with Deno's permission error (so the table states the
//   minimal flags, not merely enough);
// - the paths that once needed more (/proc, files, the environment) work
//   with `--allow-ffi` alone: mapped files and file locks, the size checks
//   against /proc/meminfo and the cgroup, a Mutex telling a dead owner
//   (/proc/<tid>/stat), IPCKIT_FUTEX_WAIT read with getenv(3);
// - every `deno run` line the READMEs and examples/ tell a reader to type
//   passes only documented flags, and --allow-ffi where it is documented.
//
// Bun has no permission flags: the probes run the Deno side from either
// runtime; the JSDoc sweep (slow: every example) runs under deno test only.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CURRENT,
  finished,
  killPeers,
  type PeerResult,
  ROOT,
  RUN_PREFIX,
  runPeerOk,
  startPeer,
  testName,
} from "../helpers/peer.ts";
import {
  bunTsconfig,
  denoBinary,
  denoCommandLines,
  type DocBlock,
  documentedFlags,
  flagsFor,
  readmeFiles,
  runCommand,
} from "../docs/_readme.ts";
import { SharedMemory } from "../../shm/mod.ts";
import { removeQuietly } from "../helpers/assert.ts";

afterEach(killPeers);

const table = documentedFlags();
const PERMISSION_ERROR = /NotCapable|Requires \w+ access|PermissionDenied/;

/** Runs a block under Deno with exactly `flags`, from a scratch folder. */
async function runDeno(
  block: DocBlock,
  flags: readonly string[],
  env: Record<string, string> = {},
): Promise<PeerResult> {
  const dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}-permissions-`));
  try {
    writeFileSync(join(dir, "tsconfig.json"), bunTsconfig());
    const file = join(dir, "example.ts");
    writeFileSync(file, block.source);
    const [cmd, args] = runCommand("deno", file, flags);
    const child = startPeer("exec", cmd, args, {
      wrap: ["env", `--chdir=${dir}`],
      env,
    });
    child.stdin?.end();
    return await finished(child, 30_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(block: DocBlock, flags: readonly string[], r: PeerResult) {
  return `${block.file}:${block.line} under deno run ${
    flags.join(" ") || "(no flags)"
  }: ${
    r.signal ?? `exit code ${r.code}`
  }\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** What Deno says when a host name lookup lacks --allow-net. */
const PROBE_REFUSAL = /NotCapable|Requires \w+ access|getaddrinfo EPERM/;

/**
 * Programs that show a flag needed for one case that no example of the
 * module covers; each returns its source, or `undefined` (saying why) when
 * this machine cannot show it.
 */
const PROBES: Record<string, () => string | undefined> = {
  // Connecting by a host name other than "localhost" looks it up through
  // node:dns. A name /etc/hosts maps to 127.0.0.1 resolves offline.
  "socket --allow-net": () => {
    const name = readFileSync("/etc/hosts", "utf8").split("\n")
      .map((l) => l.replace(/#.*/, "").trim().split(/\s+/))
      .filter((f) => f[0] === "127.0.0.1")
      .flatMap((f) => f.slice(1))
      .find((n) => n !== "localhost" && /^[\w.-]+$/.test(n));
    if (name === undefined) {
      console.log("note: no name for 127.0.0.1 in /etc/hosts but localhost");
      return undefined;
    }
    return `import { connect, listen } from "@ipckit/ipc/socket";
await using server = await listen({ hostname: "127.0.0.1", port: 0 });
const { port } = server.address as { port: number };
await using client = await connect({ hostname: "${name}", port, timeout: 5000 });
console.log(client.remoteAddress);
`;
  },
};

/** A module's public source files: their JSDoc examples are its examples. */
function sourcesOf(module: string): string[] {
  const dir = join(ROOT, module);
  if (!existsSync(join(dir, "mod.ts"))) return []; // cli/: a command
  return readdirSync(dir).filter((n) =>
    n.endsWith(".ts") && !n.startsWith("_") && !n.endsWith("_test.ts")
  ).sort().map((n) => `${module}/${n}`);
}

/**
 * Runs every JSDoc example of `files` under Deno with exactly `flags`
 * (`deno test --doc`, one process; the examples are type-checked elsewhere).
 */
async function docTests(
  files: readonly string[],
  flags: readonly string[],
): Promise<PeerResult> {
  const child = startPeer(
    "exec",
    denoBinary(),
    ["test", "--doc", "--no-check", "--no-prompt", ...flags, ...files],
  );
  child.stdin?.end();
  return await finished(child, 300_000);
}

/** The examples that failed, and why, from `deno test` output. */
function failuresOf(result: PeerResult): string {
  const text = result.stdout + result.stderr;
  const errors = text.slice(text.indexOf("ERRORS"));
  return [...errors.matchAll(/^(\S+#\d+-\d+\.ts) =>.*\n(error: .*)$/gm)]
    .map((m) => `${m[1]?.replace(`file://${ROOT}`, "")}: ${m[2]}`)
    .filter((line, i, all) => all.indexOf(line) === i)
    .join("\n") || text.slice(-3000);
}

for (const [module, flags] of table) {
  const files = sourcesOf(module);
  if (files.length === 0) continue;
  // The examples run in Deno whichever runtime runs this file: once, under
  // `deno test`, is enough (Bun has no permission flags), so Bun does not
  // register these tests at all.
  if (CURRENT === "bun") continue;
  test(
    `${module}/: every JSDoc example runs under exactly ${
      flags.join(" ")
    }, and each flag is needed`,
    async () => {
      const result = await docTests(files, flags);
      assert.equal(
        result.code,
        0,
        `${module}/'s examples under deno test --doc ${flags.join(" ")} (${
          result.signal ?? `exit code ${result.code}`
        }):\n${failuresOf(result)}`,
      );
      const ran = Number(/(\d+) passed/.exec(result.stdout)?.[1] ?? 0);
      assert.ok(ran > 0, `${module}/ has no JSDoc example to run`);
      for (const flag of flags) {
        const fewer = flags.filter((f) => f !== flag);
        // The first refused example is proof enough: --fail-fast.
        const without = await docTests(files, [...fewer, "--fail-fast"]);
        if (
          without.code !== 0 &&
          PERMISSION_ERROR.test(without.stdout + without.stderr)
        ) continue;
        // A flag for one case (socket/'s host names) may be shown by a
        // program of this file instead.
        const probe = PROBES[`${module} ${flag}`];
        assert.ok(
          probe !== undefined,
          `${module}/ documents ${flag}, but all its examples run without it: show one that needs it, or drop the flag`,
        );
        const source = probe();
        if (source === undefined) continue; // cannot be shown here (said why)
        const block: DocBlock = {
          file: `(${module} ${flag} probe)`,
          line: 1,
          info: [],
          marker: undefined,
          source,
        };
        const withIt = await runDeno(block, flags);
        assert.equal(withIt.code, 0, report(block, flags, withIt));
        const withoutIt = await runDeno(block, fewer);
        assert.ok(
          withoutIt.code !== 0 && PROBE_REFUSAL.test(withoutIt.stderr),
          report(block, fewer, withoutIt),
        );
      }
    },
  );
}

test("shm/ under --allow-ffi alone: mapped files, file locks, memfds and the size checks (/proc/meminfo, the cgroup)", async () => {
  const dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}-permissions-files-`));
  try {
    const block: DocBlock = {
      file: "(shm probe)",
      line: 1,
      info: [],
      marker: undefined,
      source:
        `import { createMemfd, FileLock, mapFile, SharedMemory } from "@ipckit/ipc/shm";
const path = ${JSON.stringify(join(dir, "data.bin"))};
{
  using file = mapFile(path, { create: true, size: 4096, access: "read-write" });
  file.write("mapped", 0);
  using lock = FileLock.open(path);
  using _guard = lock.lockSync({ timeout: 1000 });
  using _async = await lock.lock({ start: 100, length: 1, timeout: 1000 });
  using shm = SharedMemory.temporary({ size: 1 << 20 });
  shm.resize(2 << 20);
  using memfd = createMemfd("probe", { size: 4096 });
  console.log(new TextDecoder().decode(file.read(0, 6)), shm.size, memfd.size);
}
`,
    };
    const flags = table.get("shm") ?? [];
    const result = await runDeno(block, flags);
    assert.equal(result.code, 0, report(block, flags, result));
    assert.equal(result.stdout.trim(), `mapped ${2 << 20} 4096`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sem/ under --allow-ffi alone: a Mutex tells its dead owner (/proc/<tid>/stat) and takes the lock over", async () => {
  const name = testName();
  try {
    const crash = startPeer("bun", "examples/shared_counter.ts", [
      "crash",
      name,
    ]);
    crash.stdin?.end();
    assert.equal((await finished(crash)).signal, "SIGKILL");
    const output = await runPeerOk(
      "deno",
      "examples/shared_counter.ts",
      ["show", name],
      { permissions: ["--no-prompt", ...(table.get("sem") ?? [])] },
    );
    assert.match(output, /^repaired: count 999999 rolled back to 0$/m);
    assert.match(output, /^count: 0$/m);
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
});

test("ffi/ under --allow-ffi alone: IPCKIT_FUTEX_WAIT is read with getenv(3), and an async futex wait works", async () => {
  const block: DocBlock = {
    file: "(ffi probe)",
    line: 1,
    info: [],
    marker: undefined,
    source: `import { futexWaitMethod } from "@ipckit/ipc/ffi";
import { Semaphore } from "@ipckit/ipc/sem";
using s = Semaphore.temporary({ value: 0 });
setTimeout(() => s.post(), 50);
await s.wait({ timeout: 5000 });
console.log(futexWaitMethod());
`,
  };
  const flags = flagsFor(block.source, table);
  const result = await runDeno(block, flags, { IPCKIT_FUTEX_WAIT: "poll" });
  assert.equal(result.code, 0, report(block, flags, result));
  assert.equal(result.stdout.trim(), "poll");
});

test("without --allow-ffi, importing a module is allowed and the first call says which flag is missing", async () => {
  const block: DocBlock = {
    file: "(import probe)",
    line: 1,
    info: [],
    marker: undefined,
    source: `import { MessageQueue } from "@ipckit/ipc/mq";
console.log("imported");
MessageQueue.temporary();
`,
  };
  const result = await runDeno(block, []);
  assert.equal(result.stdout.trim(), "imported");
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /--allow-ffi/);
});

/** The modules a script uses: its folder's, or those it imports. */
function modulesOfScript(script: string): string[] | undefined {
  const path = join(ROOT, script);
  if (!existsSync(path)) return undefined;
  const folder = /^(\w+)\//.exec(script)?.[1];
  if (folder !== undefined && table.has(folder)) return [folder];
  const text = readFileSync(path, "utf8");
  return [
    ...new Set(
      [...text.matchAll(
        /["'](?:\.\.\/(\w+)\/mod\.ts|@ipckit\/ipc\/(\w+))["']/g,
      )]
        .map((m) => m[1] ?? m[2] ?? ""),
    ),
  ];
}

test("every `deno run` line in the READMEs and examples/ passes the documented flags", () => {
  const files = [
    ...readmeFiles(),
    ...(existsSync(join(ROOT, "examples"))
      ? readdirSync(join(ROOT, "examples")).sort().filter((n) =>
        n.endsWith(".ts")
      )
        .map((n) => `examples/${n}`)
      : []),
  ];
  let checked = 0;
  const problems: string[] = [];
  for (const file of files) {
    const home = /^(\w+)\/README\.md$/.exec(file)?.[1];
    for (const command of denoCommandLines(file)) {
      const modules = modulesOfScript(command.script) ??
        (home !== undefined && table.has(home) ? [home] : undefined);
      if (modules === undefined) continue; // not a module's program
      const documented = new Set(modules.flatMap((m) => table.get(m) ?? []));
      const where = `${file}:${command.line} (${command.script})`;
      for (const flag of command.flags) {
        if (!documented.has(flag)) {
          problems.push(`${where}: ${flag} is not documented for ${modules}`);
        }
      }
      if (
        documented.has("--allow-ffi") && !command.flags.includes("--allow-ffi")
      ) {
        problems.push(`${where}: --allow-ffi missing`);
      }
      checked++;
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 5, `only ${checked} deno run lines found`);
});
