// `npm test`: every check, then the suite under Deno and Bun, then a leak
// check. Ends with the JSDoc examples' count and one line "N passed, N
// failed, N skipped" (the suite's tests, both runtimes added up) and exits
// non-zero if anything failed.
//
// Every step has a timeout (IPCKIT_TEST_STEP_TIMEOUT / IPCKIT_CHECK_TIMEOUT,
// in seconds, override them): a step that hangs is killed and reported by
// name. The run names its objects with a prefix of its own
// (IPCKIT_TEST_PREFIX, see tests/helpers/peer.ts), so the leak check looks
// only at what this run made: another job's objects cannot fail it.
//
// `node scripts/test.mjs [paths...]` runs only those test files or folders
// (default: tests/) after the same checks.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
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
const seconds = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!(value > 0)) throw new Error(`${name} must be a positive number`);
  return value * 1000;
};
const TEST_TIMEOUT = seconds("IPCKIT_TEST_STEP_TIMEOUT", 600);
const CHECK_TIMEOUT = seconds("IPCKIT_CHECK_TIMEOUT", 180);
const prefix = `ipckit_test_${process.pid}_${randomBytes(4).toString("hex")}`;
const keyBits = randomBytes(2).readUInt16LE() & 0x7fff;
const env = {
  ...process.env,
  NO_COLOR: "1",
  IPCKIT_TEST_PREFIX: prefix,
  IPCKIT_TEST_KEY_BITS: String(keyBits),
};
delete env.FORCE_COLOR; // Deno forces colour when it is set at all
const testPaths = process.argv.length > 2 ? process.argv.slice(2) : ["tests/"];
const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const entries = Object.values(config.exports);
const failures = [];
const totals = { passed: 0, failed: 0, skipped: 0 };
const docs = { passed: 0, failed: 0 };
const runPids = new Set();

function run(title, cmd, args, options = {}) {
  const start = Date.now();
  const timeout = options.timeout ?? CHECK_TIMEOUT;
  process.stdout.write(`\n== ${title}\n`);
  const result = spawnSync(cmd, args, {
    cwd: options.cwd ?? root,
    env,
    encoding: "utf8",
    stdio: options.capture ? ["ignore", "pipe", "pipe"] : "inherit",
    maxBuffer: 256 * 1024 * 1024,
    timeout,
    killSignal: "SIGKILL",
  });
  if (result.pid) runPids.add(result.pid);
  if (options.capture) {
    process.stdout.write(result.stdout ?? "");
    process.stderr.write(result.stderr ?? "");
    if (result.stdout && !result.stdout.endsWith("\n")) {
      process.stdout.write("\n");
    }
  }
  const took = ((Date.now() - start) / 1000).toFixed(1);
  result.timedOut = result.error?.code === "ETIMEDOUT";
  if (result.timedOut) {
    console.log(`== ${title}: TIMED OUT after ${timeout / 1000} s`);
    failures.push(`${title} (timed out)`);
  } else if (result.error) {
    console.log(`== ${title}: FAILED to run (${result.error.message})`);
    failures.push(title);
  } else {
    const ok = result.status === 0;
    console.log(`== ${title}: ${ok ? "ok" : "FAILED"} (${took} s)`);
    if (!ok) failures.push(title);
  }
  result.stdout ??= "";
  result.stderr ??= "";
  return result;
}

/** Counts from Deno's last summary line: "ok | 3 passed | 0 failed | 1 ignored". */
function denoCounts(output) {
  const lines = [...output.matchAll(
    /(\d+) passed[^|\n]*\| (\d+) failed(?:[^|\n]*\| (\d+) ignored)?/g,
  )];
  const m = lines.at(-1);
  return m
    ? { passed: +m[1], failed: +m[2], skipped: +(m[3] ?? 0) }
    : undefined;
}

/** Counts from Bun's summary: " 3 pass", " 1 skip", " 1 todo", " 0 fail". */
function bunCounts(output) {
  const count = (word) =>
    Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(output)?.[1] ?? NaN);
  const [passed, failed] = [count("pass"), count("fail")];
  if (Number.isNaN(passed) || Number.isNaN(failed)) return undefined;
  const skipped = (count("skip") || 0) + (count("todo") || 0);
  return { passed, failed, skipped };
}

function add(into, counts) {
  if (counts === undefined) {
    into.failed += 1; // the runner died before its summary
    return;
  }
  for (const key of Object.keys(into)) into[key] += counts[key] ?? 0;
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

/**
 * This run's System V objects: keys with the run's key bits (tests take
 * their keys from testKey()), and private ones (key 0) whose creator or
 * last user, where /proc lists one, was one of this run's test processes.
 */
function sysv(kind) {
  let text;
  try {
    text = readFileSync(`/proc/sysvipc/${kind}`, "utf8");
  } catch {
    return [];
  }
  const [header, ...rows] = text.trim().split("\n");
  const columns = header.trim().split(/\s+/);
  const pidColumns = { msg: ["lspid", "lrpid"], shm: ["cpid", "lpid"] }[kind] ??
    [];
  return rows.map((row) => row.trim().split(/\s+/)).filter((cells) => {
    const key = Number(cells[columns.indexOf("key")]) >>> 0;
    if (key !== 0) return ((key >>> 16) & 0x7fff) === keyBits;
    return pidColumns.some((c) =>
      runPids.has(Number(cells[columns.indexOf(c)]))
    );
  }).map((cells) => ({
    what: `${kind} id ${cells[1]}`,
    remove: () =>
      spawnSync("ipcrm", [{ msg: "-q", shm: "-m", sem: "-s" }[kind], cells[1]]),
  }));
}

/**
 * This run's objects (named with its prefix, or System V ones of its own),
 * each with a function that removes it.
 */
function leftovers() {
  const list = (dir, label) =>
    existsSync(dir)
      ? readdirSync(dir).filter((n) => n.includes(prefix)).map((n) => ({
        what: `${label}${n}`,
        remove: () => rmSync(join(dir, n), { recursive: true, force: true }),
      }))
      : [];
  const sockets = readFileSync("/proc/net/unix", "utf8").split("\n")
    .filter((l) => l.includes(prefix)).map((l) => ({
      what: `socket ${l.trim().split(/\s+/).at(-1)}`,
      remove: () => {},
    }));
  return [
    ...list("/dev/shm", "/dev/shm/"),
    ...(mqueueDir ? list(mqueueDir, "mqueue /") : []),
    ...list(tmpdir(), `${tmpdir()}/`),
    ...sysv("msg"),
    ...sysv("shm"),
    ...sysv("sem"),
    ...sockets,
  ];
}

/** Objects that look like ipckit's but do not carry this run's prefix. */
function foreign() {
  const list = (dir) =>
    existsSync(dir)
      ? readdirSync(dir).filter((n) =>
        n.includes("ipckit") && !n.includes(prefix)
      )
      : [];
  return new Set([
    ...list("/dev/shm").map((n) => `/dev/shm/${n}`),
    ...(mqueueDir ? list(mqueueDir).map((n) => `mqueue /${n}`) : []),
  ]);
}

/**
 * Processes still running with this run's prefix in their environment or
 * command line (peers a test left behind); they are killed.
 */
function strayProcesses() {
  const stray = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    let environ = "";
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch { /* gone, or not ours to read */ }
    if (
      environ.split("\0").includes(`IPCKIT_TEST_PREFIX=${prefix}`) ||
      cmdline.includes(prefix)
    ) {
      stray.push(`pid ${pid}: ${cmdline.replaceAll("\0", " ").trim()}`);
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch { /* already gone */ }
    }
  }
  return stray;
}

/** Deletes the C peers this run built (tests/helpers/peer.ts buildC()). */
function removeBuiltPeers() {
  let removed = 0;
  for (
    const dir of readdirSync(tmpdir()).filter((n) => n.startsWith("ipckit-c-"))
  ) {
    const path = join(tmpdir(), dir);
    let names = [];
    try {
      names = readdirSync(path);
    } catch {
      continue;
    }
    for (const name of names.filter((n) => n.startsWith(`${prefix}-`))) {
      rmSync(join(path, name), { force: true });
      removed++;
    }
  }
  return removed;
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
{
  // Types under a consumer's settings (tests/types/): a program importing
  // every entry point, checked by tsc as a `bun init` project has it plus
  // exactOptionalPropertyTypes, with bun-types and no Deno types, and by
  // deno check with Deno's strict options. Every source file must pass.
  const dir = join(root, "tests/types");
  const consumer = readFileSync(join(dir, "consumer.ts"), "utf8");
  const strict = JSON.parse(
    readFileSync(join(dir, "deno_strict.json"), "utf8"),
  );
  const missing = Object.keys(config.exports)
    .map((k) => `@ipckit/ipc${k.slice(1)}`)
    .filter((s) => !consumer.includes(`"${s}"`) || !(s in strict.imports));
  if (missing.length > 0) {
    console.log(
      `\n== tests/types/ misses entry points (consumer.ts, deno_strict.json imports): ${
        missing.join(", ")
      }`,
    );
    failures.push("tests/types/ covers every entry point");
  }
  run(
    "tsc: a consumer with bun init's settings (tests/types)",
    process.execPath,
    [
      tsc,
      "-p",
      "tests/types/tsconfig.json",
    ],
  );
  run("deno check: a consumer with strict options (tests/types)", deno, [
    "check",
    "--config",
    "tests/types/deno_strict.json",
    "tests/types/consumer.ts",
  ]);
}
run("module independence", process.execPath, ["scripts/check_imports.mjs"]);
// Bun's helper threads run from a string bundled from ffi/ (see
// ffi/_bun.ts): stale, it would run yesterday's code. tests/packaging/
// builds the npm package and bundles programs (bun build, --compile).
run("ffi/_bun_worker_source.ts is fresh", process.execPath, [
  "scripts/build.mjs",
  "--check-worker",
]);
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
const before = foreign();
{
  const r = run("deno test", deno, [
    "test",
    "--no-check",
    "--allow-all",
    ...testPaths,
  ], { capture: true, timeout: TEST_TIMEOUT });
  add(totals, r.timedOut ? undefined : denoCounts(r.stdout));
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
  ], { capture: true, timeout: TEST_TIMEOUT });
  const counts = r.timedOut ? undefined : denoCounts(r.stdout);
  add(docs, counts);
}
{
  const r = run("bun test", bun, ["test", "--timeout", "60000", ...testPaths], {
    capture: true,
    timeout: TEST_TIMEOUT,
  });
  add(totals, r.timedOut ? undefined : bunCounts(r.stdout + r.stderr));
}

// --- Bun's helper threads from the embedded string -------------------------
// From the sources they run ffi/_bun_worker.ts; bundles, compiled programs
// and the npm package run the string (ffi/_bun_worker_source.ts) instead:
// the wait-path tests and one module of each wait kind again through it.
if (process.argv.length <= 2) {
  const r = run(
    "bun test (ffi/, a semaphore, a message queue) with the embedded helper thread",
    "env",
    [
      "IPCKIT_BUN_WORKER=embedded",
      bun,
      "test",
      "--timeout",
      "60000",
      "tests/ffi/",
      "tests/sem/semaphore_test.ts",
      "tests/mq/message_queue_test.ts",
    ],
    { capture: true, timeout: TEST_TIMEOUT },
  );
  add(totals, r.timedOut ? undefined : bunCounts(r.stdout + r.stderr));
}

// --- sem/ again, on a kernel without futex_waitv ---------------------------
// A seccomp filter answers futex_waitv with ENOSYS, as Linux before 5.16
// does (Ubuntu 22.04, Debian 11, RHEL 8): the async semaphore, mutex and
// condition waits must work through ffi's polling fallback, in both runtimes.
if (process.argv.length <= 2) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}_deny_`));
  const deny = join(dir, "deny_syscall");
  const built = spawnSync("gcc", [
    "-O2",
    "-o",
    deny,
    join(root, "tests/helpers/c/deny_syscall.c"),
  ], { encoding: "utf8" });
  if (built.status !== 0) {
    console.log(
      `== sem/ without futex_waitv: FAILED to build\n${built.stderr}`,
    );
    failures.push("sem/ without futex_waitv (build)");
  } else {
    const SYS_FUTEX_WAITV = "449";
    const ENOSYS = "38";
    const r1 = run("deno test tests/sem/ without futex_waitv", deny, [
      SYS_FUTEX_WAITV,
      ENOSYS,
      deno,
      "test",
      "--no-check",
      "--allow-all",
      "tests/sem/",
    ], { capture: true, timeout: TEST_TIMEOUT });
    add(totals, r1.timedOut ? undefined : denoCounts(r1.stdout));
    const r2 = run("bun test tests/sem/ without futex_waitv", deny, [
      SYS_FUTEX_WAITV,
      ENOSYS,
      bun,
      "test",
      "--timeout",
      "60000",
      "tests/sem/",
    ], { capture: true, timeout: TEST_TIMEOUT });
    add(totals, r2.timedOut ? undefined : bunCounts(r2.stdout + r2.stderr));
  }
  rmSync(dir, { recursive: true, force: true });
}

console.log("\n== leak check");
const stray = strayProcesses();
const left = leftovers();
const removedPeers = removeBuiltPeers();
const others = [...foreign()].filter((x) => !before.has(x));
if (stray.length > 0) {
  console.log(
    `Peers still running after the suite (killed):\n  ${stray.join("\n  ")}`,
  );
  failures.push("leak check (processes)");
}
if (left.length > 0) {
  console.log(
    `The suite left these behind (now removed):\n  ${
      left.map((x) => x.what).join("\n  ")
    }`,
  );
  for (const x of left) x.remove();
  failures.push("leak check");
}
if (others.length > 0) {
  console.log(
    `note: ${others.length} ipckit object(s) appeared without this run's prefix ` +
      `(another job's, or temporary() names, which carry no prefix); not counted`,
  );
}
console.log(
  stray.length === 0 && left.length === 0
    ? `== leak check: ok (no shm, mqueue, System V, socket, temp file or process of run ${prefix} left; ${removedPeers} built C peer(s) deleted)`
    : `== leak check: FAILED (${removedPeers} built C peer(s) deleted)`,
);

if (mountedHere) {
  spawnSync("umount", [mqueueDir]);
  rmSync(mqueueDir, { recursive: true, force: true });
}

run("deno publish --dry-run", deno, ["publish", "--dry-run", "--allow-dirty"]);

if (failures.length > 0) console.log(`\nFailed steps: ${failures.join(", ")}`);
console.log(`doc examples: ${docs.passed} passed, ${docs.failed} failed`);
console.log(
  `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`,
);
process.exit(
  failures.length > 0 || totals.failed > 0 || docs.failed > 0 ? 1 : 0,
);
