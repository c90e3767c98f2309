// What the README runner (readme_test.ts) and the permissions test share:
// finding every README, taking its ```ts blocks apart, the Deno flags each
// module documents, and how to run a block as a program under either
// runtime with exactly those flags.
//
// Conventions (documented in tests/docs/readme_test.ts):
//   ```ts            a complete program: run alone, must exit 0, leave nothing
//   ```ts ignore     a fragment, not run (keep these rare)
//   <!-- doctest: before-next -->    on the line before a block: run it to
//                    the end, then the next ts block (writer, then reader)
//   <!-- doctest: beside-next -->    start it, wait for its first line of
//                    output, then run the next ts block; it must exit 0 too
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/peer.ts";

/** A ```ts block of a README. */
export interface DocBlock {
  /** The README, relative to the repository root (`mq/README.md`). */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** Words after the fence's language (`["ignore"]`). */
  readonly info: readonly string[];
  /** The `<!-- doctest: ... -->` marker on the line before, if any. */
  readonly marker: "before-next" | "beside-next" | undefined;
  readonly source: string;
}

/** Blocks run together: one, or a chain joined by markers. */
export interface DocChain {
  readonly file: string;
  readonly blocks: readonly DocBlock[];
}

/** Every README.md at the root and one folder down (node_modules aside). */
export function readmeFiles(): string[] {
  const files = existsSync(join(ROOT, "README.md")) ? ["README.md"] : [];
  for (const name of readdirSync(ROOT).sort()) {
    if (name.startsWith(".") || name === "node_modules") continue;
    const dir = join(ROOT, name);
    if (!statSync(dir).isDirectory()) continue;
    if (existsSync(join(dir, "README.md"))) files.push(`${name}/README.md`);
  }
  return files;
}

const MARKER = /^<!--\s*doctest:\s*(\S+)\s*-->$/;
const TS_LANGS = new Set(["ts", "typescript", "js", "javascript", "tsx"]);

/** The ```ts blocks of one README, with their info words and markers. */
export function blocksOf(file: string): DocBlock[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i] ?? "");
    if (open === null) continue;
    const [, indent = "", fence = "```", rest = ""] = open;
    const [lang = "", ...info] = rest.trim().split(/\s+/);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? "";
      if (line.trim().startsWith(fence) && line.trim() === fence) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    if (TS_LANGS.has(lang.toLowerCase())) {
      let k = i - 1;
      while (k >= 0 && (lines[k] ?? "").trim() === "") k--;
      const marker = MARKER.exec((lines[k] ?? "").trim())?.[1];
      if (
        marker !== undefined && marker !== "before-next" &&
        marker !== "beside-next"
      ) {
        throw new Error(
          `${file}:${
            k + 1
          }: unknown doctest marker "${marker}" (before-next or beside-next)`,
        );
      }
      blocks.push({
        file,
        line: i + 1,
        info,
        marker,
        source: body.join("\n") + "\n",
      });
    }
    i = j;
  }
  return blocks;
}

/** The blocks of one README that run, grouped into chains by their markers. */
export function chainsOf(file: string): DocChain[] {
  const chains: DocChain[] = [];
  let current: DocBlock[] = [];
  for (const block of blocksOf(file)) {
    if (block.info.includes("ignore")) {
      if (current.length > 0) {
        throw new Error(
          `${file}:${block.line}: a doctest marker joins an ignored block`,
        );
      }
      continue;
    }
    current.push(block);
    if (block.marker === undefined) {
      chains.push({ file, blocks: current });
      current = [];
    }
  }
  if (current.length > 0) {
    throw new Error(
      `${file}:${
        current.at(-1)!.line
      }: a doctest marker with no block after it`,
    );
  }
  return chains;
}

/**
 * The Deno permission flags each module documents: the "Deno permissions"
 * column of the root README's module table, by folder (`mq` ->
 * `["--allow-ffi"]`). A module whose cell names no flag gets `[]`.
 */
export function documentedFlags(): Map<string, string[]> {
  const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
  const flags = new Map<string, string[]>();
  let column = -1;
  const cells = (line: string) =>
    line.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
  for (const line of lines) {
    if (!line.trim().startsWith("|")) {
      column = -1;
      continue;
    }
    const row = cells(line);
    const at = row.findIndex((c) => /^deno permissions$/i.test(c));
    if (at >= 0) {
      column = at;
      continue;
    }
    if (column < 0) continue;
    const module = /^\[?`(\w+)\/`/.exec(row[0] ?? "")?.[1];
    if (module === undefined) continue;
    flags.set(
      module,
      [...(row[column] ?? "").matchAll(/--allow-[a-z-]+(?:=[^\s`|]+)?/g)]
        .map((m) => m[0]),
    );
  }
  return flags;
}

/**
 * The Deno flags a program needs, by the ipckit modules it imports: the
 * union of their documented flags (`@ipckit/ipc` alone: every module's).
 * Throws when it imports a module the table does not document.
 */
export function flagsFor(
  source: string,
  table: Map<string, string[]> = documentedFlags(),
): string[] {
  const modules = new Set<string>();
  for (const m of source.matchAll(/["']@ipckit\/ipc(?:\/(\w+))?["']/g)) {
    if (m[1] === undefined) {
      for (const name of table.keys()) modules.add(name);
    } else {
      modules.add(m[1]);
    }
  }
  const flags = new Set<string>();
  for (const module of modules) {
    const documented = table.get(module);
    if (documented === undefined) {
      throw new Error(
        `imports @ipckit/ipc/${module}, whose Deno permissions the root README's module table does not give`,
      );
    }
    for (const flag of documented) flags.add(flag);
  }
  return [...flags].sort();
}

/**
 * The tsconfig.json that lets Bun resolve `@ipckit/ipc/<module>` from a
 * directory outside the repository (Deno gets `--config deno.json`).
 */
export function bunTsconfig(): string {
  return JSON.stringify({
    compilerOptions: {
      paths: {
        "@ipckit/ipc": [join(ROOT, "mod.ts")],
        "@ipckit/ipc/*": [join(ROOT, "*/mod.ts")],
      },
    },
  });
}

/**
 * The command line that runs `file` under `runtime`: Deno with exactly
 * `flags` (never a prompt) and the repository's import map, Bun as is.
 */
export function runCommand(
  runtime: "deno" | "bun",
  file: string,
  flags: readonly string[],
): [string, string[]] {
  if (runtime === "bun") {
    const bun = join(ROOT, "node_modules/bun/bin/bun.exe");
    return [existsSync(bun) ? bun : "bun", ["run", file]];
  }
  return [denoBinary(), [
    "run",
    "--no-prompt",
    "--no-lock",
    "--quiet",
    `--config=${join(ROOT, "deno.json")}`,
    ...flags,
    file,
  ]];
}

/** A `deno run` command line from a README's shell block. */
export interface DenoCommandLine {
  readonly file: string;
  readonly line: number;
  /** The `--allow-*` flags it passes. */
  readonly flags: readonly string[];
  /** The script it runs, as written (`examples/job_queue.ts`). */
  readonly script: string;
}

/**
 * Every `deno run ... script.ts` a file tells the reader to type: in a
 * README anywhere (shell blocks, prose, comments in code blocks), in a
 * TypeScript file in its comments.
 */
export function denoCommandLines(file: string): DenoCommandLine[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const found: DenoCommandLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (file.endsWith(".ts") && !/^\s*(\/\/|\*)/.test(line)) continue;
    for (
      const m of line.matchAll(
        /\bdeno run((?:\s+--[\w-]+(?:=\S+)?)*)\s+(\S+\.(?:ts|mjs|js))/g,
      )
    ) {
      found.push({
        file,
        line: i + 1,
        flags: [...(m[1] ?? "").matchAll(/--allow-[\w-]+(?:=\S+)?/g)].map((
          f,
        ) => f[0]),
        script: m[2] ?? "",
      });
    }
  }
  return found;
}

/**
 * The Deno binary to run examples with, spelled so that Deno's own
 * node:child_process does not recognise it as itself: given its own path
 * and no permission flag, it runs the child with `--allow-all`, which would
 * hide the very refusals these tests look for.
 */
export function denoBinary(): string {
  const deno = join(ROOT, "node_modules/deno/deno");
  return existsSync(deno) ? `${ROOT}node_modules/deno/./deno` : "deno";
}
