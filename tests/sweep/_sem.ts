// The entry points of sem/: Semaphore (named, and unnamed in shared
// memory), SemaphorePermit, Mutex, MutexGuard, Condition and
// SysvSemaphoreSet. Unnamed objects live in a SharedMemory mapping so that
// "memory gone" (the mapping closed under them) can be swept too.
import { rmSync, statSync, writeFileSync } from "node:fs";
import process from "node:process";
import * as sem from "../../sem/mod.ts";
import {
  Condition,
  Mutex,
  Semaphore,
  SysvSemaphoreSet,
} from "../../sem/mod.ts";
import { SharedMemory } from "../../shm/mod.ts";
import type { Ctx } from "./_ctx.ts";
import {
  accessKind,
  CLOSED,
  closers,
  creationOptions,
  keyFromPathParams,
  keyKind,
  sysvIdStatics,
} from "./_common.ts";
import {
  booleanKind,
  intRange,
  type Kind,
  memoryKind,
  modeKind,
  numberKind,
  optionsKind,
  posixName,
  signalKind,
  spinKind,
  type Sub,
  timeoutKind,
  type Validity,
  wrongTypes,
} from "./_kinds.ts";
import type { Any, ClassSpec, Entry } from "./_spec.ts";

/** The module the sweep covers, and what it leaves out of the coverage check. */
export const MODULE = sem;
export const NOT_COVERED: Record<string, string> = {};

const GONE = "after its memory is unmapped";

/** A SharedMemory mapping for the case's unnamed objects. */
function memory(ctx: Ctx): ArrayBuffer {
  const m = SharedMemory.temporary({ size: 4096 });
  ctx.defer(() => m.close());
  ctx.fx.shm = m;
  return m.buffer;
}

/** A fresh SharedArrayBuffer, with what `prepare` puts in it. */
const shared = (prepare?: (b: SharedArrayBuffer) => void) => () => {
  const b = new SharedArrayBuffer(64);
  prepare?.(b);
  return b;
};

/** Offsets into a 64-byte buffer for an object of `size` bytes aligned to `align`. */
function offsetKind(size: number, align: number): Kind {
  const last = 64 - size;
  return numberKind(
    0,
    (n) =>
      Number.isInteger(n) && n >= 0 && n <= last && n % align === 0
        ? "valid"
        : "invalid",
    {
      optional: true,
      extra: [
        [`${last}`, last],
        [`${last + align}`, last + align],
        [`${align / 2} (misaligned)`, align / 2],
        ["64", 64],
      ],
    },
  );
}

const valueKind = numberKind(1, intRange(0, 2 ** 31 - 1), {
  optional: true,
  extra: [["2**31-1", 2 ** 31 - 1]],
});

/** How long a call on a waiting fixture may stay pending. */
const WAITING_BOUND = 50;

/** `timeout` and `signal`: the options of an async wait. */
const waitFields = (short = false): Record<string, Kind> => ({
  timeout: timeoutKind(short ? 2 : 20),
  signal: signalKind,
});

/**
 * The options of a blocking (`Sync`) wait; on a waiting fixture (`short`)
 * only bounded timeouts are tried, since no limit would block for good.
 */
function syncOptions(short: boolean): Kind {
  return short
    ? optionsKind({ timeout: timeoutKind(2, false) }, {
      skip: ["undefined", "{}"],
    })
    : optionsKind({ timeout: timeoutKind(20) });
}

/** The calls that wait for a semaphore. */
function semaphoreWaits(short: boolean): Entry[] {
  return [
    { name: "tryWait", kind: "method" },
    {
      name: "waitSync",
      kind: "method",
      params: [["options", syncOptions(short)]],
    },
    {
      name: "wait",
      kind: "method",
      params: [["options", optionsKind(waitFields(short))]],
    },
    {
      name: "acquire",
      kind: "method",
      params: [["options", optionsKind(waitFields(short))]],
    },
    {
      name: "acquireSync",
      kind: "method",
      params: [["options", syncOptions(short)]],
    },
  ];
}

function semaphoreEntries(states: readonly string[]): Entry[] {
  return [
    { name: "value", kind: "getter" },
    { name: "post", kind: "method" },
    ...semaphoreWaits(false),
    { name: "destroy", kind: "method" },
    ...closers(states),
  ];
}

function namedSemaphore(value: number) {
  return (ctx: Ctx): Semaphore => {
    const name = ctx.name();
    const s = Semaphore.open(name, { create: true, exclusive: true, value });
    ctx.defer(() => {
      s.close();
      Semaphore.unlink(name);
    });
    return ctx.fx.s = s;
  };
}

function unnamedSemaphore(value: number) {
  return (ctx: Ctx): Semaphore => {
    const s = Semaphore.init(memory(ctx), 0, { value });
    ctx.defer(() => s.close());
    return ctx.fx.s = s;
  };
}

/**
 * Names whose /dev/shm/sem.* file exists but holds no semaphore: glibc maps
 * it without looking, and a short one would kill the process (SIGBUS).
 */
const posingSemaphores: Sub[] = ([
  ["empty", new Uint8Array(0)],
  ["4-byte", new Uint8Array(4)],
  ["32-byte 0xff", new Uint8Array(32).fill(0xff)],
] as const).map(([what, bytes]) => ({
  label: `a name whose sem. file is ${what}`,
  value: (ctx: Ctx) => {
    const name = ctx.name();
    const path = `/dev/shm/sem.${name.slice(1)}`;
    writeFileSync(path, bytes);
    ctx.defer(() => rmSync(path, { force: true }));
    return name;
  },
  validity: "either" as Validity,
}));

const named: ClassSpec = {
  label: "Semaphore",
  exportName: "Semaphore",
  target: Semaphore,
  fixture: namedSemaphore(2),
  states: { [CLOSED]: (s: Any) => s.close() },
  entries: [
    {
      name: "open",
      kind: "static",
      params: [
        ["name", posixName((ctx) => ctx.name(), posingSemaphores)],
        [
          "options",
          optionsKind({
            ...creationOptions(0o7777),
            value: valueKind,
            spin: spinKind,
          }),
        ],
      ],
    },
    {
      name: "temporary",
      kind: "static",
      params: [[
        "options",
        optionsKind({
          mode: modeKind(0o7777),
          value: valueKind,
          spin: spinKind,
        }),
      ]],
    },
    {
      name: "unlink",
      kind: "static",
      params: [["name", posixName((ctx) => ctx.name())]],
    },
    {
      name: "init",
      kind: "static",
      params: [
        ["buffer", memoryKind(shared())],
        ["byteOffset", offsetKind(32, 8)],
        ["options", optionsKind({ value: valueKind, spin: spinKind })],
      ],
    },
    {
      name: "at",
      kind: "static",
      params: [
        ["buffer", memoryKind(shared((b) => Semaphore.init(b, 0).close()))],
        ["byteOffset", offsetKind(32, 8)],
        ["options", optionsKind({ spin: spinKind })],
      ],
    },
    ...semaphoreEntries([CLOSED]),
  ],
};

const unnamed: ClassSpec = {
  label: "Semaphore (unnamed)",
  exportName: "Semaphore",
  target: Semaphore,
  fixture: unnamedSemaphore(2),
  states: {
    [CLOSED]: (s: Any) => s.close(),
    [GONE]: (_s: Any, ctx: Ctx) => ctx.fx.shm.close(),
  },
  entries: semaphoreEntries([CLOSED, GONE]),
};

const namedAtZero: ClassSpec = {
  label: "Semaphore (at 0)",
  exportName: "Semaphore",
  target: Semaphore,
  fixture: namedSemaphore(0),
  bound: WAITING_BOUND,
  entries: semaphoreWaits(true),
};

const unnamedAtZero: ClassSpec = {
  label: "Semaphore (unnamed, at 0)",
  exportName: "Semaphore",
  target: Semaphore,
  fixture: unnamedSemaphore(0),
  bound: WAITING_BOUND,
  entries: semaphoreWaits(true),
};

const RELEASED = "after release()";
const OWNER_CLOSED = "after its owner's close()";

const permit: ClassSpec = {
  label: "SemaphorePermit",
  exportName: "SemaphorePermit",
  target: sem.SemaphorePermit,
  fixture: (ctx) => {
    const s = Semaphore.temporary({ value: 1 });
    ctx.defer(() => s.close());
    const p = s.acquireSync();
    ctx.defer(() => {
      if (!s.closed) p.release();
    });
    ctx.fx.s = s;
    return p;
  },
  states: {
    [RELEASED]: (p: Any) => p.release(),
    [OWNER_CLOSED]: (_p: Any, ctx: Ctx) => ctx.fx.s.close(),
  },
  entries: ["release", Symbol.dispose, "released"].map((name) => ({
    name,
    kind: name === "released" ? "getter" : "method",
    states: { [RELEASED]: "valid", [OWNER_CLOSED]: "either" },
  })),
};

function mutexFixture(ctx: Ctx): Mutex {
  const m = Mutex.init(memory(ctx), 0);
  ctx.defer(() => m.close());
  return ctx.fx.m = m;
}

function mutexLocks(short: boolean): Entry[] {
  return [
    {
      name: "lockSync",
      kind: "method",
      params: [["options", syncOptions(short)]],
    },
    {
      name: "lock",
      kind: "method",
      params: [["options", optionsKind(waitFields(short))]],
    },
    { name: "tryLock", kind: "method" },
    // Not held by this thread: an error or nothing, both defensible.
    { name: "unlock", kind: "method" },
  ];
}

const mutex: ClassSpec = {
  label: "Mutex",
  exportName: "Mutex",
  target: Mutex,
  fixture: mutexFixture,
  states: {
    [CLOSED]: (m: Any) => m.close(),
    [GONE]: (_m: Any, ctx: Ctx) => ctx.fx.shm.close(),
  },
  entries: [
    ...(["init", "at"] as const).map((name): Entry => ({
      name,
      kind: "static",
      params: [
        ["buffer", memoryKind(shared())],
        ["byteOffset", offsetKind(8, 8)],
        ["options", optionsKind({ spin: spinKind })],
      ],
    })),
    { name: "owner", kind: "getter" },
    { name: "heldByMe", kind: "getter" },
    ...mutexLocks(false),
    ...closers([CLOSED, GONE]),
  ],
};

const heldMutex: ClassSpec = {
  label: "Mutex (held by another process)",
  exportName: "Mutex",
  target: Mutex,
  fixture: (ctx) => {
    const m = mutexFixture(ctx);
    // Owned by a live thread of this PID namespace: the parent process.
    const words = new Int32Array(ctx.fx.shm.buffer, 0, 2);
    Atomics.store(words, 1, Number(statSync("/proc/self/ns/pid").ino) | 0);
    Atomics.store(words, 0, process.ppid);
    return m;
  },
  bound: WAITING_BOUND,
  entries: mutexLocks(true),
};

const UNLOCKED = "after unlock()";

const guard: ClassSpec = {
  label: "MutexGuard",
  exportName: "MutexGuard",
  target: sem.MutexGuard,
  fixture: (ctx) => {
    const g = mutexFixture(ctx).lockSync();
    ctx.defer(() => g.unlock());
    return g;
  },
  states: {
    [UNLOCKED]: (g: Any) => g.unlock(),
    [OWNER_CLOSED]: (_g: Any, ctx: Ctx) => ctx.fx.m.close(),
    [GONE]: (_g: Any, ctx: Ctx) => ctx.fx.shm.close(),
  },
  entries: ["unlock", Symbol.dispose, "ownerDied", "mutex", "held"].map((
    name,
  ) => ({
    name,
    kind: name === "unlock" || name === Symbol.dispose ? "method" : "getter",
    states: { [UNLOCKED]: "valid", [OWNER_CLOSED]: "valid", [GONE]: "valid" },
  })),
};

/** A guard argument: the fixture's held guard, or something else. */
const guardKind: Kind = {
  base: (ctx) => ctx.fx.guard,
  subs: [
    {
      label: "a released guard",
      value: () => {
        const m = Mutex.init(new SharedArrayBuffer(8));
        const g = m.lockSync();
        g.unlock();
        return g;
      },
      validity: "invalid",
    },
    {
      label: "a mutex (not its guard)",
      value: (ctx) => ctx.fx.m,
      validity: "invalid",
    },
    {
      label: "{ held: true }",
      value: () => ({ held: true }),
      validity: "invalid",
    },
    ...wrongTypes(),
    { label: "undefined", value: () => undefined, validity: "invalid" },
  ],
};

/**
 * A Condition at offset 8 of `buffer` beside a Mutex at 0, the mutex held
 * (`ctx.fx.m`, `ctx.fx.guard`), both released when the case ends.
 */
function heldCondition(
  ctx: Ctx,
  buffer: ArrayBuffer,
  attach: (buffer: ArrayBuffer, offset: number) => Condition,
): Condition {
  // One defer a step (they run last first): a failing unlock still closes.
  const m = Mutex.init(buffer, 0);
  ctx.defer(() => m.close());
  const c = attach(buffer, 8);
  ctx.defer(() => c.close());
  const g = m.lockSync();
  ctx.defer(() => g.unlock());
  ctx.fx.m = m;
  ctx.fx.guard = g;
  return ctx.fx.c = c;
}

const condition: ClassSpec = {
  label: "Condition",
  exportName: "Condition",
  target: Condition,
  fixture: (ctx) => heldCondition(ctx, memory(ctx), Condition.init),
  states: {
    [CLOSED]: (c: Any) => c.close(),
    [GONE]: (_c: Any, ctx: Ctx) => ctx.fx.shm.close(),
  },
  entries: [
    ...(["init", "at"] as const).map((name): Entry => ({
      name,
      kind: "static",
      params: [
        ["buffer", memoryKind(shared())],
        ["byteOffset", offsetKind(8, 4)],
      ],
    })),
    {
      // Without a timeout nothing would wake it: unbounded waits are left out.
      name: "waitSync",
      kind: "method",
      params: [
        ["guard", guardKind],
        [
          "options",
          optionsKind({ timeout: timeoutKind(0, false) }, {
            skip: ["undefined", "{}"],
          }),
        ],
      ],
    },
    {
      name: "wait",
      kind: "method",
      params: [
        ["guard", guardKind],
        ["options", optionsKind({ ...waitFields(), timeout: timeoutKind(0) })],
      ],
      kick: (ctx) => ctx.fx.c.notifyAll(),
    },
    {
      name: "notify",
      kind: "method",
      params: [[
        "count",
        numberKind(
          1,
          (n) => Number.isInteger(n) && n >= 1 ? "valid" : "invalid",
          {
            optional: true,
          },
        ),
      ]],
    },
    { name: "notifyAll", kind: "method" },
    ...closers([CLOSED, GONE]),
  ],
};

const indexKind = numberKind(0, intRange(0, 1), {
  extra: [["1", 1], ["2 (the count)", 2]],
});

const sysvValueKind = numberKind(1, intRange(0, 32767), {
  extra: [["32767", 32767], ["32768", 32768]],
});

const countKind = numberKind(
  2,
  (n): Validity =>
    !Number.isInteger(n) || n < 1 || n > 65535
      ? "invalid"
      : n <= 250
      ? "valid"
      : "either",
  {
    optional: true,
    extra: [["65535", 65535], ["65536", 65536]],
  },
);

/** An array argument whose elements are substituted one at a time. */
function arrayKind(
  base: () => unknown[],
  element: Kind,
  more: Sub[],
): Kind {
  return {
    base,
    subs: [
      ...element.subs.map((s): Sub => ({
        label: `[${s.label}, …]`,
        value: (ctx) => {
          const a = base();
          a[0] = s.value(ctx);
          return a;
        },
        validity: s.validity,
      })),
      ...more,
      { label: "[]", value: () => [], validity: "invalid" },
      { label: "42", value: () => 42, validity: "invalid" },
      { label: '"55"', value: () => "55", validity: "invalid" },
      { label: "null", value: () => null, validity: "invalid" },
      { label: "undefined", value: () => undefined, validity: "invalid" },
      { label: "{}", value: () => ({}), validity: "invalid" },
    ],
  };
}

const valuesKind = arrayKind(() => [5, 5], sysvValueKind, [
  { label: "[5] (too few)", value: () => [5], validity: "invalid" },
  {
    label: "[5, 5, 5] (too many)",
    value: () => [5, 5, 5],
    validity: "invalid",
  },
  {
    label: "{ 0: 5, 1: 5, length: 2 }",
    value: () => ({ 0: 5, 1: 5, length: 2 }),
    validity: "invalid",
  },
  {
    label: "Uint16Array [5, 5]",
    value: () => new Uint16Array([5, 5]),
    validity: "either",
  },
  // deno-lint-ignore no-sparse-arrays
  { label: "[, 5] (a hole)", value: () => [, 5], validity: "invalid" },
]);

const deltaKind = numberKind(-1, intRange(-32768, 32767), {
  extra: [
    ["32767", 32767],
    ["32768", 32768],
    ["-32768", -32768],
    ["-32769", -32769],
  ],
});

/** `operations`: each field of the first operation substituted in turn. */
function operationsKind(): Kind {
  const op = () => ({ index: 0, delta: -1 });
  const fields: Record<string, Kind> = {
    index: indexKind,
    delta: deltaKind,
    undo: booleanKind(undefined),
  };
  const subs: Sub[] = Object.entries(fields).flatMap(([field, kind]) =>
    kind.subs.map((s): Sub => ({
      label: `[{ ${field}: ${s.label} }]`,
      value: (ctx) => [{ ...op(), [field]: s.value(ctx) }],
      validity: s.validity,
    }))
  );
  return arrayKind(() => [op()], {
    base: op,
    subs: [
      { label: "null", value: () => null, validity: "invalid" },
      { label: "42", value: () => 42, validity: "invalid" },
      { label: "{}", value: () => ({}), validity: "invalid" },
      { label: "[0, -1]", value: () => [0, -1], validity: "invalid" },
    ],
  }, [
    ...subs,
    {
      label: "1000 operations",
      value: () => Array.from({ length: 1000 }, () => ({ index: 0, delta: 0 })),
      validity: "either",
    },
  ]);
}

const REMOVED = "after remove()";

function semaphoreSet(value: number) {
  return (ctx: Ctx): SysvSemaphoreSet => {
    const s = SysvSemaphoreSet.temporary({ count: 2 });
    ctx.defer(() => s.close());
    s.setAll([value, value]);
    return ctx.fx.s = s;
  };
}

function operations(short: boolean): Entry[] {
  return [
    {
      name: "operateSync",
      kind: "method",
      params: [
        ["operations", operationsKind()],
        ["options", syncOptions(short)],
      ],
    },
    {
      name: "operate",
      kind: "method",
      params: [
        ["operations", operationsKind()],
        ["options", optionsKind(waitFields(short))],
      ],
    },
    {
      name: "tryOperate",
      kind: "method",
      params: [["operations", operationsKind()]],
    },
  ];
}

const setAtZero: ClassSpec = {
  label: "SysvSemaphoreSet (at 0)",
  exportName: "SysvSemaphoreSet",
  target: SysvSemaphoreSet,
  fixture: semaphoreSet(0),
  bound: WAITING_BOUND,
  entries: operations(true),
};

const sysvSet: ClassSpec = {
  label: "SysvSemaphoreSet",
  exportName: "SysvSemaphoreSet",
  target: SysvSemaphoreSet,
  fixture: semaphoreSet(5),
  states: {
    [CLOSED]: (s: Any) => s.close(),
    [REMOVED]: (s: Any) => s.remove(),
  },
  entries: [
    {
      name: "open",
      kind: "static",
      params: [
        ["key", keyKind()],
        [
          "options",
          optionsKind({
            ...creationOptions(0o777),
            count: countKind,
            access: accessKind(["read", "read-write"]),
          }),
        ],
      ],
    },
    { name: "keyFromPath", kind: "static", params: keyFromPathParams() },
    {
      name: "private",
      kind: "static",
      params: [[
        "options",
        optionsKind({
          mode: modeKind(0o777),
          count: countKind,
        }),
      ]],
      dispose: (r: Any) => {
        try {
          r.remove();
        } finally {
          r.close();
        }
      },
    },
    {
      name: "temporary",
      kind: "static",
      params: [[
        "options",
        optionsKind({
          mode: modeKind(0o777),
          count: countKind,
        }),
      ]],
    },
    ...sysvIdStatics((ctx) => ctx.fx.s.id, ["read", "read-write"]),
    { name: "id", kind: "getter", states: { [REMOVED]: "valid" } },
    { name: "get", kind: "method", params: [["index", indexKind]] },
    {
      name: "set",
      kind: "method",
      params: [["index", indexKind], ["value", sysvValueKind]],
    },
    { name: "getAll", kind: "method" },
    { name: "setAll", kind: "method", params: [["values", valuesKind]] },
    ...operations(false),
    { name: "remove", kind: "method" },
    ...closers([CLOSED, REMOVED]),
  ],
};

// --- Objects over memory nobody initialised (every byte 0xff) -------------
// Any outcome but a crash, a hang or a foreign error will do.

function garbage(ctx: Ctx): ArrayBuffer {
  const b = memory(ctx);
  new Uint8Array(b).fill(0xff);
  return b;
}

const anything = (entries: Entry[]): Entry[] =>
  entries.map((e) => ({ ...e, validity: "either" }));

/** A semaphore over bytes that are no semaphore: anything but a crash. */
const semaphoreOverGarbage = (): Entry[] =>
  anything([
    { name: "value", kind: "getter" },
    { name: "post", kind: "method" },
    ...semaphoreWaits(true),
    { name: "destroy", kind: "method" },
  ]);

const garbageSpecs: ClassSpec[] = [
  {
    label: "Semaphore (named, over a garbage file)",
    exportName: "Semaphore",
    target: Semaphore,
    fixtureMayFail: true,
    fixture: (ctx) => {
      const name = ctx.name();
      const path = `/dev/shm/sem.${name.slice(1)}`;
      writeFileSync(path, new Uint8Array(32).fill(0xff));
      ctx.defer(() => rmSync(path, { force: true }));
      const s = Semaphore.open(name);
      ctx.defer(() => s.close());
      return ctx.fx.s = s;
    },
    bound: WAITING_BOUND,
    entries: semaphoreOverGarbage(),
  },
  {
    label: "Semaphore (over garbage)",
    exportName: "Semaphore",
    target: Semaphore,
    fixture: (ctx) => {
      const s = Semaphore.at(garbage(ctx), 0);
      ctx.defer(() => s.close());
      return ctx.fx.s = s;
    },
    bound: WAITING_BOUND,
    entries: semaphoreOverGarbage(),
  },
  {
    label: "Mutex (over garbage)",
    exportName: "Mutex",
    target: Mutex,
    fixture: (ctx) => {
      const m = Mutex.at(garbage(ctx), 0);
      ctx.defer(() => m.close());
      return ctx.fx.m = m;
    },
    bound: WAITING_BOUND,
    entries: anything([
      { name: "owner", kind: "getter" },
      { name: "heldByMe", kind: "getter" },
      ...mutexLocks(true),
    ]),
  },
  {
    label: "Condition (over garbage)",
    exportName: "Condition",
    target: Condition,
    fixture: (ctx) => heldCondition(ctx, garbage(ctx), Condition.at),
    bound: WAITING_BOUND,
    entries: anything([
      {
        name: "waitSync",
        kind: "method",
        params: [["guard", guardKind], ["options", syncOptions(true)]],
      },
      {
        name: "wait",
        kind: "method",
        params: [["guard", guardKind], [
          "options",
          optionsKind(waitFields(true)),
        ]],
      },
      { name: "notify", kind: "method" },
      { name: "notifyAll", kind: "method" },
    ]),
  },
];

/** Every description, in the order the cases run. */
export const SPECS: readonly ClassSpec[] = [
  named,
  unnamed,
  namedAtZero,
  unnamedAtZero,
  permit,
  mutex,
  heldMutex,
  guard,
  condition,
  sysvSet,
  setAtZero,
  ...garbageSpecs,
];

/** Makes every lazily opened resource (futex waiter, timers) before the cases. */
export async function warmUp(): Promise<void> {
  using s = Semaphore.temporary({ value: 0 });
  await s.wait({ timeout: 5 }).catch(() => {});
  s.post();
  await s.wait({ timeout: 100 });
  const b = new SharedArrayBuffer(64);
  using m = Mutex.init(b, 0);
  using c = Condition.init(b, 8);
  using g = await m.lock({ timeout: 100 });
  await c.wait(g, { timeout: 1 });
  using set = SysvSemaphoreSet.temporary({ count: 1 });
  await set.operate([{ index: 0, delta: 1 }], { timeout: 100 });
}

/** A check that the process still works after every case. */
export async function canary(): Promise<void> {
  await warmUp();
}
