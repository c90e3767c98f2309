// `npm test`: every check, then the suite under Deno and Bun, then a leak
// check. Ends with one line "N passed, N failed" (both runtimes added up) and
// exits non-zero if anything failed.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../", import.meta.url).pathname;
// Package paths, not node_modules/.bin (see .npmrc).
const deno = join(root, "node_modules/deno/deno");
const bun = join(root, "node_modules/bun/bin/bun.exe");
const tsc = join(root, "node_modules/typescript/bin/tsc");
const env = { ...process.env, NO_COLOR: "1" };
delete env.FORCE_COLOR; // Deno forces colour when it is set at all
const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const entries = Object.values(config.exports);
const failures = [];
let passed = 0;
let failed = 0;

function run(title, cmd, args, options = {}) {
  const start = Date.now();
  process.stdout.write(`\n== ${title}\n`);
  const result = spawnSync(cmd, args, {
    cwd: options.cwd ?? root,
    env,
    encoding: "utf8",
    stdio: options.capture ? ["ignore", "pipe", "pipe"] : "inherit",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (options.capture) {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  const ok = result.status === 0;
  console.log(
    `== ${title}: ${ok ? "ok" : "FAILED"} (${
      ((Date.now() - start) / 1000).toFixed(1)
    } s)`,
  );
  if (!ok) failures.push(title);
  return result;
}

// --- Leak check: what POSIX and System V objects exist --------------------
let mqueueDir = "/dev/mqueue";
let mountedHere = false;
function mountMqueue() {
  const mounts = readFileSync("/proc/mounts", "utf8");
  const line = mounts.split("\n").find((l) => l.split(" ")[2] === "mqueue");
  if (line) {
    mqueueDir = line.split(" ")[1];
    return;
  }
  // Queues are listed only through an mqueue mount; make a private one.
  const dir = mkdtempSync(join(tmpdir(), "ipckit-mqueue-"));
  if (spawnSync("mount", ["-t", "mqueue", "none", dir]).status === 0) {
    mqueueDir = dir;
    mountedHere = true;
  } else {
    rmSync(dir, { recursive: true, force: true });
    mqueueDir = undefined;
    console.log(
      "note: cannot mount mqueue (not root?): message queue leaks are not checked",
    );
  }
}
function sysv(kind) {
  try {
    return readFileSync(`/proc/sysvipc/${kind}`, "utf8").trim().split("\n")
      .slice(1)
      .map((l) => `${kind} id ${l.trim().split(/\s+/)[1]}`);
  } catch {
    return [];
  }
}
function snapshot() {
  const list = (dir, prefix) =>
    existsSync(dir) ? readdirSync(dir).map((n) => `${prefix}${n}`) : [];
  const sockets = readFileSync("/proc/net/unix", "utf8").split("\n")
    .filter((l) => l.includes("ipckit")).map((l) =>
      `socket ${l.trim().split(/\s+/).at(-1)}`
    );
  return new Set([
    ...list("/dev/shm", "/dev/shm/"),
    ...(mqueueDir ? list(mqueueDir, "mqueue /") : []),
    ...list(tmpdir(), `${tmpdir()}/`).filter((n) =>
      n.includes("ipckit") && !n.includes("ipckit-c-") &&
      !n.includes("ipckit-mqueue-")
    ),
    ...sysv("msg"),
    ...sysv("shm"),
    ...sysv("sem"),
    ...sockets,
  ]);
}

// --- Static checks ---------------------------------------------------------
run("deno fmt --check", deno, ["fmt", "--check"]);
run("deno lint", deno, ["lint"]);
run("deno check --doc (every module)", deno, ["check", "--doc", ...entries]);
run("deno check (tests, bench, examples)", deno, [
  "check",
  "tests/",
  ...["bench/", "examples/"].filter((d) => existsSync(join(root, d))),
]);
run("deno doc --lint", deno, ["doc", "--lint", ...entries]);
run("tsc --noEmit with bun-types", process.execPath, [
  tsc,
  "-p",
  "tsconfig.bun.json",
]);
run("module independence", process.execPath, ["scripts/check_imports.mjs"]);
{
  // Each module copied alone with ffi/ must still type-check.
  for (const entry of entries) {
    const m = entry.match(/^\.\/(\w+)\/mod\.ts$/)?.[1];
    if (m === undefined || m === "ffi") continue;
    const dir = mkdtempSync(join(tmpdir(), "ipckit-copy-"));
    try {
      for (const d of ["ffi", m]) {
        cpSync(join(root, d), join(dir, d), {
          recursive: true,
          filter: (p) => !p.endsWith(".md"),
        });
      }
      run(`${m}/ + ffi/ copied alone type-check`, deno, [
        "check",
        `${m}/mod.ts`,
      ], { cwd: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// --- The suite under both runtimes -----------------------------------------
mountMqueue();
const before = snapshot();
{
  const r = run("deno test", deno, [
    "test",
    "--no-check",
    "--allow-all",
    "tests/",
  ], { capture: true });
  const m = /(\d+) passed[^|\n]*\| (\d+) failed/.exec(r.stdout);
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  } else failed += 1; // the runner died before its summary
}
{
  // Every JSDoc example runs too (deno check --doc above has type-checked
  // them; --no-check spares the worker modules a second check at start-up).
  const sources = ["mod.ts", ...entries.map((e) => e.replace(/mod\.ts$/, ""))]
    .flatMap((p) =>
      p.endsWith(".ts") ? [p] : readdirSync(join(root, p))
        .filter((n) => n.endsWith(".ts") && !n.startsWith("_"))
        .map((n) => p + n)
    );
  const r = run("deno test --doc (JSDoc examples)", deno, [
    "test",
    "--doc",
    "--no-check",
    "--allow-all",
    ...new Set(sources),
  ], { capture: true });
  const m = /(\d+) passed[^|\n]*\| (\d+) failed/.exec(r.stdout);
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  } else failed += 1;
}
{
  const r = run("bun test", bun, ["test", "--timeout", "60000", "tests/"], {
    capture: true,
  });
  const out = r.stdout + r.stderr;
  const p = /^\s*(\d+) pass$/m.exec(out);
  const f = /^\s*(\d+) fail$/m.exec(out);
  if (p && f) {
    passed += Number(p[1]);
    failed += Number(f[1]);
  } else failed += 1;
}
const leaked = [...snapshot()].filter((x) => !before.has(x));
if (mountedHere) {
  spawnSync("umount", [mqueueDir]);
  rmSync(mqueueDir, { recursive: true, force: true });
}
console.log("\n== leak check");
if (leaked.length > 0) {
  console.log(`The suite left these behind:\n  ${leaked.join("\n  ")}`);
  failures.push("leak check");
} else {console.log(
    "== leak check: ok (no shm, mqueue, System V, socket or FIFO object left)",
  );}

run("deno publish --dry-run", deno, ["publish", "--dry-run", "--allow-dirty"]);

if (failures.length > 0) console.log(`\nFailed steps: ${failures.join(", ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failures.length > 0 || failed > 0 ? 1 : 0);
