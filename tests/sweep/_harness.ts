// Runs one case in this process: makes the fixture, makes the call (a
// promise within a bound), classifies how it ended, releases what it made,
// and looks for what it left behind (named objects, System V objects,
// descriptors, mappings).
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  unlinkSync,
} from "node:fs";
import process from "node:process";
import { IpcError, libc } from "../../ffi/mod.ts";
import { Ctx } from "./_ctx.ts";
import type { Validity } from "./_kinds.ts";
import type { Any, Case } from "./_spec.ts";

/** How long a call's promise may take (SWEEP_CALL_BOUND for the runner's own test). */
export const CALL_BOUND_MS: number = Number(
  process.env.SWEEP_CALL_BOUND ?? 2_000,
);

/** What one case printed. */
export interface CaseResult {
  i: number;
  id: string;
  input: string;
  validity: Validity;
  outcome: string;
  /** The error's message, when the call threw. */
  message?: string;
  ms: number;
  leaks?: string[];
  note?: string;
  /** A promise rejected with nobody listening while the case ran. */
  unhandled?: boolean;
  /** The input had the wrong type. */
  wrongType?: boolean;
  /** The state the handle was in (after close(), ...). */
  state?: string;
  /** Threads of the process after the case (a wait must leave none). */
  threads?: number;
  /** Which child process ran it (1 for the first). */
  child?: number;
}

// Messages of errors the engine or the FFI layer made, not a check at the
// door: a TypeError "Cannot read properties of null" is a missing check.
const ENGINE_MESSAGES: readonly RegExp[] = [
  /Cannot read propert/,
  /Cannot set propert/,
  /is not a function/,
  /is not iterable/,
  /is not a constructor/,
  /is not an object/,
  /Cannot convert/,
  /cannot be converted to a BigInt/,
  /Cannot mix BigInt/,
  /Not an integer/,
  /Invalid typed array length/,
  /Invalid array length/,
  /Invalid array buffer length/,
  /Start offset/,
  /should be a multiple of/,
  /out of bounds/i,
  /outside the bounds/,
  /Cannot perform/,
  /Maximum call stack/,
  /Out of memory/i,
  /Underlying ArrayBuffer/,
  /already detached/,
  /serialize a BigInt/,
  /cannot serialize BigInt/,
  /Receiver should be/,
  /Argument should be/,
  /Length out of range/,
  /\bFFI\b/,
  /\bptr\b/,
  /to be a pointer/i,
  /Expected a pointer/i,
  /as a buffer/,
  /Unable to convert/i,
  /Invalid argument type/i,
  /Invalid DataView/,
];

/** How a thrown value is recorded. */
export function classify(error: unknown): string {
  if (error instanceof IpcError || (error as Any)?.name === "IpcError") {
    return `IpcError:${(error as IpcError).code}`;
  }
  const e = error as Any;
  const message = String(e?.message ?? e).split("\n")[0].slice(0, 160);
  if (typeof DOMException !== "undefined" && error instanceof DOMException) {
    return e.name === "TimeoutError" || e.name === "AbortError"
      ? `DOMException:${e.name}`
      : `other:DOMException ${e.name}:${message}`;
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    if (ENGINE_MESSAGES.some((re) => re.test(message))) {
      return `other:${e.name}:${message}`;
    }
    return e.name;
  }
  const name = e instanceof Error ? e.name : typeof e;
  return `other:${name}:${message}`;
}

/**
 * Whether an outcome passes: an error of the three kinds always does; a
 * success (or a timeout of a valid wait) only where the input is allowed.
 */
export function acceptable(
  outcome: string,
  validity: Validity,
  leaks: readonly string[] | undefined,
): boolean {
  if (leaks !== undefined && leaks.length > 0) return false;
  if (
    outcome === "TypeError" || outcome === "RangeError" ||
    outcome.startsWith("IpcError:")
  ) {
    return true;
  }
  // A wait that timed out or was aborted as asked, or one still waiting
  // where no limit was asked: right for valid input only.
  if (
    outcome === "ok" || outcome === "DOMException:TimeoutError" ||
    outcome === "DOMException:AbortError" || outcome === "pending"
  ) {
    return validity !== "invalid";
  }
  return false;
}

// --- What exists: named objects, System V objects, descriptors, mappings ---

/** Where the run's objects can be seen. */
export interface World {
  /** All of /dev/shm is this run's (a private tmpfs in an IPC namespace). */
  isolated: boolean;
  /** The mqueue mount, if there is one. */
  mqueueDir: string | undefined;
  tag: string;
  dir: string;
}

interface Snapshot {
  named: Set<string>;
  sysv: Set<string>;
  fds: Map<string, string>;
  maps: Set<string>;
}

const OURS = /ipckit_|\/dev\/shm\/|memfd:|\/SYSV/;

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function sysvObjects(world: World, keys: readonly number[]): Set<string> {
  const out = new Set<string>();
  for (const kind of ["msg", "shm", "sem"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/sysvipc/${kind}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.trim().split("\n").slice(1)) {
      const [key, id] = line.trim().split(/\s+/);
      if (world.isolated || keys.includes(Number(key))) {
        out.add(`${kind} id ${id} key ${key}`);
      }
    }
  }
  return out;
}

function snapshot(world: World, keys: readonly number[]): Snapshot {
  const mine = (n: string) =>
    world.isolated ? !n.startsWith(".") : n.includes(world.tag);
  const named = new Set<string>([
    ...list("/dev/shm").filter(mine).map((n) => `/dev/shm/${n}`),
    ...(world.mqueueDir === undefined ? [] : list(world.mqueueDir)
      .filter(mine).map((n) => `mqueue /${n}`)),
  ]);
  const fds = new Map<string, string>();
  for (const fd of list("/proc/self/fd")) {
    let link = "";
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (
      (OURS.test(link) || link.startsWith(world.dir)) &&
      !link.includes("ipckit-trampoline")
    ) {
      fds.set(fd, link);
    }
  }
  const maps = new Set<string>();
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const path = line.split(/\s+/).slice(5).join(" ");
    if (
      (OURS.test(path) || path.startsWith(world.dir)) &&
      !path.includes("ipckit-trampoline")
    ) {
      maps.add(line);
    }
  }
  return { named, sysv: sysvObjects(world, keys), fds, maps };
}

/** Removes a named object or System V object this run left. */
function removeObject(entry: string): void {
  try {
    if (entry.startsWith("/dev/shm/")) unlinkSync(entry);
    else if (entry.startsWith("mqueue ")) {
      libc().mq_unlink(new TextEncoder().encode(entry.slice(7) + "\0"));
    } else {
      const [kind, , id] = entry.split(" ");
      const n = Number(id);
      if (kind === "msg") libc().msgctl(n, 0, null);
      if (kind === "shm") libc().shmctl(n, 0, null);
      if (kind === "sem") libc().semctl(n, 0, 0, 0);
    }
  } catch { /* gone already */ }
}

/** Removes what the case's names and keys may have created. */
function removeNamed(world: World, ctx: Ctx): void {
  for (const name of ctx.names) {
    const base = name.slice(1);
    for (const path of [`/dev/shm/${base}`, `/dev/shm/sem.${base}`]) {
      if (existsSync(path)) removeObject(path);
    }
    if (!/[\0/]/.test(base) && base.length > 0 && base.length < 256) {
      libc().mq_unlink(new TextEncoder().encode(name + "\0"));
    }
  }
  for (const entry of sysvObjects({ ...world, isolated: false }, ctx.keys)) {
    removeObject(entry);
  }
}

function diff(before: Snapshot, after: Snapshot): string[] {
  const leaks: string[] = [];
  for (const n of after.named) if (!before.named.has(n)) leaks.push(n);
  for (const s of after.sysv) {
    if (!before.sysv.has(s)) leaks.push(`System V ${s}`);
  }
  for (const [fd, link] of after.fds) {
    if (before.fds.get(fd) !== link) leaks.push(`descriptor ${fd} -> ${link}`);
  }
  for (const m of after.maps) {
    if (!before.maps.has(m)) {
      leaks.push(
        `mapping ${m.split(/\s+/)[0]} ${m.split(/\s+/).slice(5).join(" ")}`,
      );
    }
  }
  return leaks;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as Any)?.then === "function";
}

function defaultDispose(result: unknown): void {
  if (result === null || typeof result !== "object") return;
  if (ArrayBuffer.isView(result) || result instanceof ArrayBuffer) return;
  for (const m of ["release", "unlock", "close"]) {
    const f = (result as Any)[m];
    if (typeof f === "function") {
      try {
        f.call(result);
      } catch { /* reported by the leak check if it mattered */ }
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs case `c` (number `i`) and returns what to print. */
export async function runCase(
  i: number,
  c: Case,
  world: World,
): Promise<CaseResult> {
  const ctx = new Ctx(world.tag, world.dir);
  const before = snapshot(world, []);
  const { spec, entry } = c;
  const notes: string[] = [];
  let outcome = "ok";
  let message: string | undefined;
  let result: unknown;
  let ms = 0;
  let pending: Promise<unknown> | undefined;
  try {
    let target = spec.target;
    if (entry.kind !== "static" || entry.fixture) {
      try {
        const instance = spec.fixture!(ctx);
        if (entry.kind !== "static") target = instance;
      } catch (error) {
        if (!spec.fixtureMayFail) {
          throw new HarnessError(`fixture failed: ${classify(error)}`);
        }
        throw new FixtureRefused(error);
      }
      if (c.state !== undefined) {
        try {
          spec.states![c.state](target, ctx);
        } catch (error) {
          throw new HarnessError(`${c.state} failed: ${classify(error)}`);
        }
      }
    }
    const args = c.args(ctx);
    const start = performance.now();
    try {
      let r: unknown;
      if (entry.call !== undefined) r = entry.call(target, args, ctx);
      else if (entry.kind === "getter") r = Reflect.get(target, entry.name);
      else if (entry.kind === "setter") {
        Reflect.set(target, entry.name, args[0]);
      } else r = target[entry.name](...args);
      if (isThenable(r)) {
        const p = Promise.resolve(r);
        pending = p;
        p.catch(() => {});
        const kick = entry.kick === undefined ? undefined : setTimeout(() => {
          try {
            entry.kick!(ctx);
          } catch (error) {
            notes.push(`kick failed: ${classify(error)}`);
          }
        }, 20);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const bound = new Promise<"timeout">((resolve) => {
          timer = setTimeout(
            () => resolve("timeout"),
            spec.bound ?? CALL_BOUND_MS,
          );
        });
        const settled = p.then(
          (value) => ({ value }),
          (error) => ({ error }),
        );
        const first = await Promise.race([settled, bound]);
        clearTimeout(timer);
        clearTimeout(kick);
        if (first === "timeout") {
          outcome = spec.bound === undefined ? "timeout" : "pending";
        } else {
          pending = undefined;
          if ("error" in first) throw first.error;
          result = first.value;
        }
      } else {
        result = r;
      }
    } catch (error) {
      outcome = classify(error);
      message = String((error as Any)?.message ?? error).slice(0, 300);
      // No valid size here comes near the children's 128 MiB file limit or
      // their /dev/shm: running out of room in the allocator itself means
      // a huge size got past the checks and started to reserve.
      const e = error as IpcError;
      if (
        outcome.startsWith("IpcError:") &&
        ["ENOSPC", "EFBIG"].includes(e.code) &&
        ["ftruncate", "posix_fallocate", "fallocate"].includes(e.syscall)
      ) {
        outcome = `other:allocation:${e.code} from ${e.syscall}`;
      }
    }
    ms = performance.now() - start;
  } catch (error) {
    if (error instanceof FixtureRefused) {
      outcome = classify(error.error);
      message = String((error.error as Any)?.message ?? error.error);
    } else if (error instanceof HarnessError) {
      outcome = `other:harness:${error.message}`;
    } else throw error;
  }
  // Release what the call made, then the fixture.
  if (outcome === "ok") {
    try {
      (entry.dispose ?? defaultDispose)(result, ctx);
    } catch (error) {
      notes.push(`disposing the result failed: ${classify(error)}`);
    }
  }
  for (const step of ctx.cleanups.reverse()) {
    try {
      step();
    } catch (error) {
      notes.push(`cleanup failed: ${classify(error)}`);
    }
  }
  for (const fd of ctx.fds) libc().close(fd);
  if (pending !== undefined) {
    // Did closing the fixture end the wait that timed out?
    const late = await Promise.race([
      pending.then(() => "resolved", (e) => classify(e)),
      sleep(300).then(() => "still pending"),
    ]);
    if (outcome === "pending" && late === "still pending") outcome = "timeout";
    notes.push(`closing the fixture ended the pending call: ${late}`);
  }
  // A successful call may have created objects under the case's names and
  // keys: by design, not a leak. A failed one must not have.
  if (outcome === "ok" || outcome === "DOMException:TimeoutError") {
    removeNamed(world, ctx);
  }
  // (Without an IPC namespace, `before` holds no System V object: the
  // case's keys are fresh, and private objects cannot be told apart.)
  const leaks = diff(before, snapshot(world, ctx.keys));
  for (const leak of leaks) {
    if (leak.startsWith("descriptor ")) {
      libc().close(Number(leak.split(" ")[1]));
    } else if (!leak.startsWith("mapping ")) {
      removeObject(leak.replace(/^System V /, ""));
    }
  }
  const out: CaseResult = {
    i,
    id: c.id,
    input: c.input,
    validity: c.validity,
    outcome,
    ms: Math.round(ms * 10) / 10,
  };
  if (message !== undefined) out.message = message;
  out.threads = list("/proc/self/task").length;
  if (c.wrongType) out.wrongType = true;
  if (c.state !== undefined) out.state = c.state;
  if (leaks.length > 0) out.leaks = leaks;
  if (notes.length > 0) out.note = notes.join("; ");
  return out;
}

class HarnessError extends Error {}

/** The module refused a fixture made of bad input: the case's outcome. */
class FixtureRefused extends Error {
  constructor(readonly error: unknown) {
    super("fixture refused");
  }
}
