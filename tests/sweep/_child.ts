// One batch of the sweep, run by sweep_test.ts in a child process: the cases
// of one module from SWEEP_FROM on, one JSON line each on stdout:
//   {"total": N}, then per case {"start": i, "id": ...} and the result
//   ({"i", "id", "outcome", ...}), {"unhandled": ...} when a promise
//   rejected with nobody listening, and {"done": true} at the end.
// The parent restarts a batch after the case that crashed or hung it.
import { readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import process from "node:process";
import { setImmediate } from "node:timers";
import * as ffi from "../../ffi/mod.ts";
import { classify, runCase, type World } from "./_harness.ts";
import { genericKind } from "./_kinds.ts";
import { type Case, coverage, generate, hiddenMembers } from "./_spec.ts";

function print(value: unknown): void {
  const bytes = new TextEncoder().encode(JSON.stringify(value) + "\n");
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(1, bytes.subarray(at));
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
    }
  }
}

const name = process.env.SWEEP_MODULE;
const described = name === "mq"
  ? await import("./_mq.ts")
  : name === "shm"
  ? await import("./_shm.ts")
  : name === "sem"
  ? await import("./_sem.ts")
  : undefined;
if (described === undefined) throw new Error(`SWEEP_MODULE ${name}?`);

const world: World = {
  isolated: process.env.SWEEP_ISOLATED === "1",
  mqueueDir: process.env.SWEEP_MQUEUE || undefined,
  tag: process.env.SWEEP_TAG ?? "ipckit_test_sweep",
  dir: process.env.SWEEP_DIR ?? process.cwd(),
};

const sources = [`../../${name}/`, "../../ffi/"].flatMap((dir) => {
  const path = new URL(dir, import.meta.url).pathname;
  return readdirSync(path).filter((f) => f.endsWith(".ts")).map((f) =>
    readFileSync(path + f, "utf8")
  );
});

const cases = generate([
  ...described.SPECS,
  ...coverage({
    module: described.MODULE as Record<string, unknown>,
    foreign: ffi as Record<string, unknown>,
    notCovered: described.NOT_COVERED,
    specs: described.SPECS,
    generic: genericKind,
    hidden: hiddenMembers(sources),
  }),
]);
const only = process.env.SWEEP_ONLY;

// If the runner dies (killed, or gave up on the test), do not live on.
const runner = process.ppid;
setInterval(() => {
  if (process.ppid !== runner) process.exit(3);
}, 500);
print({ total: cases.length });

// A promise that rejects with nobody listening (or an exception thrown
// from a callback) is charged to the case that was running. Deno reports
// through events on globalThis, Bun through process.
const unhandled: string[] = [];
if ("Deno" in globalThis) {
  globalThis.addEventListener("unhandledrejection", (e: Event) => {
    e.preventDefault();
    const reason = (e as PromiseRejectionEvent).reason;
    unhandled.push(`unhandled rejection: ${classify(reason)}`);
  });
  globalThis.addEventListener("error", (e: Event) => {
    e.preventDefault();
    unhandled.push(`uncaught exception: ${classify((e as ErrorEvent).error)}`);
  });
} else {
  process.on("unhandledRejection", (reason: unknown) => {
    unhandled.push(`unhandled rejection: ${classify(reason)}`);
  });
  process.on("uncaughtException", (error: unknown) => {
    unhandled.push(`uncaught exception: ${classify(error)}`);
  });
}

// The runner's own test: what to do instead of some cases (by id fragment).
const selftest: Record<string, string> = JSON.parse(
  process.env.SWEEP_SELFTEST ?? "{}",
);

function sabotage(c: Case): Case {
  const what = Object.entries(selftest).find(([id]) => c.id.includes(id))?.[1];
  if (what === undefined) return c;
  const call = (): unknown => {
    switch (what) {
      case "crash": {
        // A write to an unmapped page (as a module bug would): SIGSEGV.
        const page = ffi.viewMemory(ffi.pointerFrom(4096)!, 8);
        new Uint8Array(page)[0] = 1;
        throw new Error("still alive after writing to address 4096");
      }
      case "hang":
        for (;;) { /* a sync hang */ }
      case "async-hang":
        return new Promise(() => {});
      case "grow": {
        const chunks: Uint8Array[] = [];
        // At most 96 MiB: the runner must kill it long before.
        while (chunks.length < 6) chunks.push(new Uint8Array(16 << 20).fill(1));
        for (;;) { /* keep it */ }
      }
      case "leak":
        writeFileSync(`/dev/shm/${world.tag}_leak`, "x");
        return undefined;
      case "unhandled":
        Promise.reject(new Error("nobody listens"));
        return undefined;
    }
    throw new Error(`SWEEP_SELFTEST: ${what}?`);
  };
  return {
    ...c,
    validity: "valid",
    entry: { ...c.entry, kind: "static", fixture: false, call },
  };
}

await described.warmUp();
for (let i = Number(process.env.SWEEP_FROM ?? 0); i < cases.length; i++) {
  if (only !== undefined && !cases[i].id.includes(only)) continue;
  print({ start: i, id: cases[i].id });
  const result = await runCase(i, sabotage(cases[i]), world);
  // One turn of the event loop, so that rejections are reported now.
  await new Promise((resolve) => setImmediate(resolve));
  if (unhandled.length > 0) {
    result.unhandled = true;
    result.note = [result.note, ...unhandled.splice(0)].filter(Boolean)
      .join("; ");
  }
  print(result);
}
let canary = "ok";
try {
  await described.canary();
} catch (error) {
  canary = classify(error);
}
print({ canary });
print({ done: true });
process.exit(0);
