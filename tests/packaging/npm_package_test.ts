// The npm package as a consumer gets it: `npm pack` (which builds dist/)
// in a copy of the checkout, the tarball installed into a fresh Bun project
// and into a fresh TypeScript project with Node's resolution, each running
// an mq send and receive, the second type-checked by tsc against the bundled
// declarations under strict settings. It spawns npm, tsc and Bun, whatever
// runs this file; it registers under Bun only, so the slow build runs once
// per `npm test`.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  CURRENT,
  ROOT,
  RUN_PREFIX,
  runPeer,
  testDir,
} from "../helpers/peer.ts";

const BUN = join(ROOT, "node_modules/bun/bin/bun.exe");
const DENO = join(ROOT, "node_modules/deno/deno");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const EXPECTED = { message: "hello from a bundle", semaphore: "acquired" };

/** Runs `cmd` in `dir`; returns stdout, failing with all output on error. */
async function inDir(
  dir: string,
  cmd: string,
  args: readonly string[],
  options: { timeout?: number; env?: Record<string, string> } = {},
): Promise<string> {
  const line = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(" ");
  const r = await runPeer("exec", "sh", ["-c", `cd '${dir}' && exec ${line}`], {
    timeout: options.timeout ?? 120_000,
    ...(options.env ? { env: options.env } : {}),
  });
  assert.equal(
    r.code,
    0,
    `${line} exited ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`,
  );
  return r.stdout.trim();
}

/** What `npm pack` needs of the checkout: the manifest, sources, build. */
function copyCheckout(to: string): void {
  const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
  const folders = new Set<string>(["scripts", "cli"]);
  for (const file of Object.values(config.exports) as string[]) {
    const folder = file.split("/")[1];
    if (folder !== undefined && !folder.endsWith(".ts")) folders.add(folder);
  }
  for (const name of ["package.json", "deno.json", "README.md", "LICENSE"]) {
    cpSync(join(ROOT, name), join(to, name));
  }
  cpSync(join(ROOT, "mod.ts"), join(to, "mod.ts"));
  for (const folder of folders) {
    if (existsSync(join(ROOT, folder))) {
      cpSync(join(ROOT, folder), join(to, folder), { recursive: true });
    }
  }
  symlinkSync(join(ROOT, "node_modules"), join(to, "node_modules"));
}

if (CURRENT === "bun") {
  const work = testDir("npm");
  after(() => rmSync(work, { recursive: true, force: true }));
  let tarball: string | undefined;
  const packed = (): string => {
    assert.ok(tarball, "no tarball: the npm pack test failed");
    return tarball;
  };

  test(
    "npm pack builds dist/ and packs the JavaScript, one .d.ts per entry point and the bin, no sources",
    {
      timeout: 300_000,
    },
    async () => {
      const checkout = join(work, "checkout");
      mkdirSync(checkout);
      copyCheckout(checkout);
      const out = await inDir(checkout, "npm", [
        "pack",
        "--json",
        "--pack-destination",
        work,
      ], { timeout: 280_000 });
      // npm prints the prepack build's output before its JSON.
      const report = JSON.parse(out.slice(out.indexOf("\n[") + 1))[0];
      const files = (report.files as { path: string }[]).map((f) => f.path);
      const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
      for (const [subpath, target] of Object.entries(pkg.exports)) {
        const { types, default: js } = target as {
          types: string;
          default: string;
        };
        assert.ok(files.includes(js.slice(2)), `${subpath}: ${js} packed`);
        assert.ok(
          files.includes(types.slice(2)),
          `${subpath}: ${types} packed`,
        );
      }
      assert.ok(files.includes("dist/cli/bin.mjs"), "the ipckit bin is packed");
      // The helper thread ships as the string only (see ffi/_bun.ts).
      assert.ok(files.includes("dist/ffi/_bun_worker_source.js"));
      assert.ok(!files.includes("dist/ffi/_bun_worker.js"));
      const sources = files.filter((f) =>
        f.endsWith(".ts") && !f.endsWith(".d.ts")
      );
      assert.deepEqual(sources, [], "no TypeScript sources");
      assert.deepEqual(files.filter((f) => f.startsWith("tests/")), []);
      tarball = join(work, report.filename);
      assert.ok(existsSync(tarball));
    },
  );

  test(
    "the tarball in a fresh Bun project: async mq receive and semaphore wait through @ipckit/ipc/mq and /sem, under Bun and Deno; the ipckit bin",
    {
      timeout: 120_000,
    },
    async () => {
      const project = join(work, "bun-project");
      mkdirSync(project);
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ name: "consumer", private: true, type: "module" }),
      );
      await inDir(project, BUN, ["add", packed()]);
      const program = readFileSync(
        join(ROOT, "tests/packaging/async_program.ts"),
        "utf8",
      ).replace('"../../mq/mod.ts"', '"@ipckit/ipc/mq"')
        .replace('"../../sem/mod.ts"', '"@ipckit/ipc/sem"');
      assert.match(program, /@ipckit\/ipc\/sem/);
      writeFileSync(join(project, "index.ts"), program);
      const out = await inDir(project, BUN, ["index.ts", RUN_PREFIX]);
      assert.deepEqual(JSON.parse(out), EXPECTED);
      // Deno runs the same project from its node_modules, with --allow-ffi.
      const deno = await inDir(project, DENO, [
        "run",
        "--allow-ffi",
        "--no-prompt",
        "index.ts",
        RUN_PREFIX,
      ]);
      assert.deepEqual(JSON.parse(deno), EXPECTED);
      // The bin, as `bunx ipckit` runs it.
      const doctor = await inDir(project, BUN, [
        "node_modules/.bin/ipckit",
        "doctor",
        "--json",
      ]);
      assert.ok(JSON.parse(doctor));
    },
  );

  test(
    "the tarball in a fresh TypeScript project (nodenext, strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, skipLibCheck off): tsc passes and the output runs; npx ipckit",
    {
      timeout: 120_000,
    },
    async () => {
      const project = join(work, "ts-project");
      mkdirSync(project);
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ name: "ts-consumer", private: true, type: "module" }),
      );
      await inDir(project, "npm", [
        "install",
        "--offline",
        "--no-audit",
        "--no-fund",
        packed(),
      ]);
      writeFileSync(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            lib: ["ESNext", "DOM"],
            module: "nodenext",
            moduleResolution: "nodenext",
            strict: true,
            noUncheckedIndexedAccess: true,
            exactOptionalPropertyTypes: true,
            skipLibCheck: false,
            types: [],
            outDir: "out",
          },
          files: ["consumer.ts"],
        }),
      );
      // Every entry point imported, so that tsc checks each bundled .d.ts.
      const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
      const everyEntry = Object.keys(pkg.exports).map((subpath, i) =>
        `import type * as entry${i} from "${
          join("@ipckit/ipc", subpath)
        }";\nexport type Entry${i} = keyof typeof entry${i};\n`
      ).join("");
      writeFileSync(
        join(project, "consumer.ts"),
        `${everyEntry}import { MessageQueue, type ReceivedMessage } from "@ipckit/ipc/mq";
import { IpcError, Semaphore } from "@ipckit/ipc";

declare const process: { argv: string[] };
const name = \`/\${process.argv[2]}_npm_ts_queue\`;
using queue = MessageQueue.open(name, {
  create: true,
  maxMessages: 4,
  messageSize: 64,
});
try {
  setTimeout(() => queue.sendSync("typed and received"), 50);
  const message: ReceivedMessage = await queue.receive({ timeout: 10_000 });
  // @ts-expect-error: a payload is bytes or a string (fails if types are any)
  if (Math.random() > 2) queue.sendSync(42);
  const received: string = new TextDecoder().decode(message.data);
  console.log(JSON.stringify({
    received,
    error: IpcError.name,
    semaphore: typeof Semaphore.open,
  }));
} finally {
  MessageQueue.unlink(name);
}
`,
      );
      await inDir(project, "node", [TSC, "-p", "."]);
      // npx runs the bin under Node, which hands the command to Bun.
      const doctor = await inDir(project, "npx", [
        "--offline",
        "ipckit",
        "doctor",
        "--json",
      ], { env: { IPCKIT_RUNTIME: BUN } });
      assert.ok(JSON.parse(doctor));
      const out = await inDir(project, BUN, ["out/consumer.js", RUN_PREFIX]);
      assert.deepEqual(JSON.parse(out), {
        received: "typed and received",
        error: "IpcError",
        semaphore: "function",
      });
    },
  );
}
