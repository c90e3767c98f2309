#!/usr/bin/env node
// The package's `ipckit` bin, for `npx ipckit` and `bunx ipckit`. The command
// calls libc through Bun's or Deno's FFI, which Node lacks, so under Node
// this file only finds Bun or Deno and runs cli/ipckit.ts with it; under Bun
// or Deno (`bunx --bun ipckit`, `deno run --allow-ffi cli/bin.mjs`) it runs
// the command in this process. It runs ipckit.ts beside it (the sources) or
// ipckit.js (the npm package's dist/cli/, where the build puts both).
//
// The runtime, in order: $IPCKIT_RUNTIME (`bun`, `deno`, or a path to
// either), the Bun of `bunx` (the parent process), `bun` then `deno` on $PATH,
// then a `bun` or `deno` npm package installed in a node_modules folder
// above this file.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readlinkSync } from "node:fs";
import { basename, delimiter, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

if ("Bun" in globalThis || "Deno" in globalThis) {
  // Importing needs no permission in Deno, where existsSync would want
  // --allow-read: try the source, then the build.
  let command;
  try {
    command = await import("./ipckit.ts");
  } catch (error) {
    const missing = error?.code === "ERR_MODULE_NOT_FOUND" ||
      /Module not found|Cannot find module/.test(String(error?.message));
    if (!missing || !String(error?.message).includes("ipckit.ts")) throw error;
    command = await import("./ipckit.js");
  }
  process.exitCode = command.main(args);
} else {
  const entry = ["ipckit.ts", "ipckit.js"].map((name) => join(here, name))
    .find((path) => existsSync(path));
  if (entry === undefined) {
    console.error(`ipckit: neither ipckit.ts nor ipckit.js is in ${here}`);
    process.exit(1);
  }
  const runtime = findRuntime();
  if (runtime === undefined) {
    console.error(
      "ipckit: needs Bun or Deno (Node has no FFI), and found neither: " +
        "install one (https://bun.sh, https://deno.com), put it on PATH, " +
        "or set IPCKIT_RUNTIME to its path",
    );
    process.exit(1);
  }
  const argv = runtime.kind === "deno"
    ? ["run", "--allow-ffi", "--quiet", "--no-config", entry, ...args]
    : [entry, ...args];
  const result = spawnSync(runtime.path, argv, { stdio: "inherit" });
  if (result.error !== undefined) {
    console.error(
      `ipckit: cannot run ${runtime.path}: ${result.error.message}`,
    );
    process.exit(1);
  }
  if (result.signal !== null) process.kill(process.pid, result.signal);
  process.exit(result.status ?? 1);
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function kindOf(path) {
  const name = basename(path);
  if (name.startsWith("bun")) return "bun";
  if (name.startsWith("deno")) return "deno";
  return undefined;
}

function findRuntime() {
  const wanted = process.env.IPCKIT_RUNTIME;
  if (wanted) {
    if (wanted.includes("/")) {
      const kind = kindOf(wanted);
      return kind !== undefined && executable(wanted)
        ? { kind, path: wanted }
        : undefined;
    }
    return onPath(wanted);
  }
  return fromBunx() ?? onPath("bun") ?? onPath("deno") ?? installed();
}

/**
 * The Bun that runs `bunx ipckit` (which runs this file with Node): our
 * parent process. Bun keeps npm_execpath and npm_config_user_agent when they
 * are set already (bunx inside an `npm run` script), so they come second.
 */
function fromBunx() {
  try {
    const parent = readlinkSync(`/proc/${process.ppid}/exe`);
    if (kindOf(parent) === "bun" && executable(parent)) {
      return { kind: "bun", path: parent };
    }
  } catch { /* no /proc, or not ours to read */ }
  const path = process.env.npm_execpath;
  const agent = process.env.npm_config_user_agent ?? "";
  return agent.startsWith("bun/") && path && executable(path)
    ? { kind: "bun", path }
    : undefined;
}

function onPath(name) {
  if (name !== "bun" && name !== "deno") return undefined;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    if (existsSync(path) && executable(path)) return { kind: name, path };
  }
  return undefined;
}

function installed() {
  for (let dir = here;; dir = dirname(dir)) {
    for (
      const [kind, path] of [
        ["bun", join(dir, "node_modules/bun/bin/bun.exe")],
        ["deno", join(dir, "node_modules/deno/deno")],
      ]
    ) {
      if (existsSync(path) && executable(path)) return { kind, path };
    }
    if (dirname(dir) === dir) return undefined;
  }
}
