// The entry points of shm/: SharedMemory, MappedFile (and mapFile), Memfd
// (and createMemfd), SysvSharedMemory, FileLock and FileLockGuard.
import { rmSync, writeFileSync } from "node:fs";
import * as shm from "../../shm/mod.ts";
import {
  createMemfd,
  FileLock,
  mapFile,
  MappedFile,
  Memfd,
  SharedMemory,
  SysvSharedMemory,
} from "../../shm/mod.ts";
import { cString, libc } from "../../ffi/mod.ts";
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
  enumKind,
  type Kind,
  modeKind,
  numberKind,
  optionsKind,
  payloadKind,
  posixName,
  signalKind,
  sizeKind,
  specialPaths,
  stringKind,
  type Sub,
  targetKind,
  timeoutKind,
  typedArrayKind,
  type Validity,
  withValidity,
  wrongTypes,
} from "./_kinds.ts";
import type { Any, ClassSpec, Entry } from "./_spec.ts";

/** The module the sweep covers, and what it leaves out of the coverage check. */
export const MODULE = shm;
export const NOT_COVERED: Record<string, string> = {
  MappedMemory:
    "the abstract base: its members are swept through each subclass",
};

const SIZE = 4096;

/** A byte offset into a mapping of `room` bytes ("2" is misaligned for Int32Array). */
const offsetKind = (room: number, misaligned: Validity): Kind =>
  withValidity(
    numberKind(0, (n) =>
      Number.isInteger(n) && n >= 0 && n <= room ? "valid" : "invalid", {
      optional: true,
      extra: [[`${room}`, room], [`${room + 1}`, room + 1], ["2", 2]],
    }),
    "2",
    misaligned,
  );

const lengthKind = (room: number): Kind =>
  numberKind(
    undefined,
    (n) => Number.isInteger(n) && n >= 0 && n <= room ? "valid" : "invalid",
    {
      optional: true,
      extra: [[`${room}`, room], [`${room + 1}`, room + 1]],
    },
  );

/** What every mapping has (MappedMemory's members). */
function mappingEntries(): Entry[] {
  return [
    {
      name: "view",
      kind: "method",
      params: [
        ["type", typedArrayKind],
        ["byteOffset", offsetKind(SIZE, "either")],
        ["length", lengthKind(SIZE / 4)],
      ],
    },
    {
      name: "read",
      kind: "method",
      params: [
        ["byteOffset", offsetKind(SIZE, "valid")],
        ["length", lengthKind(SIZE)],
      ],
    },
    {
      name: "readInto",
      kind: "method",
      params: [
        ["target", targetKind(16, false)],
        ["byteOffset", offsetKind(SIZE, "valid")],
      ],
    },
    {
      name: "write",
      kind: "method",
      params: [
        ["data", payloadKind(SIZE + 1)],
        ["byteOffset", offsetKind(SIZE, "valid")],
      ],
    },
    { name: "size", kind: "getter" },
    { name: "buffer", kind: "getter" },
    { name: "fd", kind: "getter" },
    ...closers([CLOSED]),
  ];
}

const closed = { [CLOSED]: (m: Any) => m.close() };

/**
 * A mapping's members on a read-only mapping: a write through it would kill
 * the process (SIGSEGV), so write(), view() and buffer must refuse every
 * call, whatever the arguments; reads work.
 */
function readOnlyEntries(): Entry[] {
  const forbidden = new Set<string | symbol>([
    "write",
    "view",
    "buffer",
    "resize",
  ]);
  const resize: Entry = {
    name: "resize",
    kind: "method",
    params: [["size", sizeKind(2 * SIZE)]],
  };
  return [
    ...mappingEntries().filter((e) =>
      !["close", "closed", Symbol.dispose].includes(e.name)
    ),
    resize,
  ].map((e): Entry =>
    forbidden.has(e.name) ? { ...e, validity: "invalid" } : e
  );
}

function readOnly(
  label: string,
  exportName: string,
  target: Any,
  fixture: (ctx: Ctx) => Any,
  extra: (e: Entry) => boolean = (e) => e.name !== "resize",
): ClassSpec {
  return {
    label: `${label} (read-only)`,
    exportName,
    target,
    fixture,
    entries: readOnlyEntries().filter(extra),
  };
}

/** Names of objects that exist but are not what the call expects. */
const posingShm: Sub[] = [0, 1].map((size) => ({
  label: `the name of an existing ${size}-byte object`,
  value: (ctx: Ctx) => {
    const name = ctx.name();
    const path = `/dev/shm/${name.slice(1)}`;
    writeFileSync(path, new Uint8Array(size));
    ctx.defer(() => rmSync(path, { force: true }));
    return name;
  },
  validity: "either" as Validity,
}));

const sharedMemory: ClassSpec = {
  label: "SharedMemory",
  exportName: "SharedMemory",
  target: SharedMemory,
  fixture: (ctx) => {
    const name = ctx.name();
    const m = SharedMemory.open(name, {
      create: true,
      exclusive: true,
      size: SIZE,
    });
    ctx.defer(() => {
      m.close();
      SharedMemory.unlink(name);
    });
    return ctx.fx.m = m;
  },
  states: closed,
  entries: [
    {
      name: "open",
      kind: "static",
      params: [
        ["name", posixName((ctx) => ctx.name(), posingShm)],
        [
          "options",
          optionsKind({
            ...creationOptions(0o7777),
            // Required with create: true (the base options).
            size: sizeKind(SIZE),
            access: accessKind(["read", "read-write"]),
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
          size: sizeKind(SIZE),
          mode: modeKind(0o7777),
        }, { optional: false }),
      ]],
    },
    {
      name: "unlink",
      kind: "static",
      params: [["name", posixName((ctx) => ctx.name())]],
    },
    ...mappingEntries(),
    { name: "resize", kind: "method", params: [["size", sizeKind(2 * SIZE)]] },
    { name: "remap", kind: "method" },
  ],
};

const pathKind = (base: (ctx: Ctx) => string, url: boolean): Kind => {
  const kind = stringKind(base, {
    slash: "either",
    noSlash: "either",
    inner: "either",
    long: "either",
  });
  if (!url) return { ...kind, subs: [...kind.subs, ...specialPaths()] };
  return {
    ...kind,
    subs: [
      ...kind.subs,
      ...specialPaths(),
      {
        label: "a file: URL",
        value: (ctx) => new URL(`file://${base(ctx)}`),
        validity: "valid",
      },
      {
        label: "an http: URL",
        value: () => new URL("http://localhost/x"),
        validity: "invalid",
      },
    ],
  };
};

const mapFileParams = (): (readonly [string, Kind])[] => [
  ["path", pathKind((ctx) => ctx.file(), true)],
  [
    "options",
    optionsKind({
      size: sizeKind(SIZE), // required with create: true (the base options)
      access: accessKind(["read", "read-write"]),
      writable: withValidity(booleanKind(undefined), "true", "either"),
      shared: booleanKind(undefined),
      create: booleanKind(true),
      mode: modeKind(0o7777),
    }),
  ],
];

const mappedFile: ClassSpec = {
  label: "MappedFile",
  exportName: "MappedFile",
  target: MappedFile,
  fixture: (ctx) => {
    const m = MappedFile.open(ctx.existingFile(SIZE), { access: "read-write" });
    ctx.defer(() => m.close());
    return ctx.fx.m = m;
  },
  states: closed,
  entries: [
    { name: "open", kind: "static", params: mapFileParams() },
    {
      name: "temporary",
      kind: "static",
      params: [[
        "options",
        optionsKind({
          size: sizeKind(SIZE),
          mode: modeKind(0o7777),
          // A folder that is missing (relative, long, nested) is ENOENT;
          // "/" is a folder.
          dir: stringKind((ctx) => ctx.dir, {
            long: "either",
            noSlash: "either",
            slash: "either",
            inner: "either",
          }, true),
          // A prefix is part of a file name: "" and names without "/" do.
          prefix: stringKind(() => "sweep_", {
            empty: "valid",
            noSlash: "valid",
            long: "either",
          }, true),
        }, { optional: false }),
      ]],
    },
    ...mappingEntries(),
    { name: "flush", kind: "method" },
  ],
};

const sealsKind = (optional: boolean): Kind => {
  const kind = optionsKind({
    shrink: booleanKind(undefined),
    grow: booleanKind(undefined),
    write: booleanKind(undefined),
    seal: booleanKind(undefined),
  }, { optional });
  return {
    ...kind,
    subs: [
      ...kind.subs,
      {
        label: "{ size: true } (no such seal)",
        value: () => ({ size: true }),
        validity: "invalid",
      },
    ],
  };
};

const memfdName = stringKind((ctx) => `${ctx.tag}_memfd`, {
  empty: "valid",
  noSlash: "valid",
  slash: "valid",
  inner: "valid",
});

const memfdParams = (): (readonly [string, Kind])[] => [
  ["name", memfdName],
  [
    "options",
    optionsKind({
      size: sizeKind(SIZE),
      seal: sealsKind(true),
      closeOnExec: booleanKind(undefined),
    }, { optional: false }),
  ],
];

/** A descriptor of `path` opened with `flags` (libc, not node:fs: Deno's are not fds). */
function openFd(ctx: Ctx, path: string, flags: number): number {
  const fd = libc().open(cString(path), flags | O_CLOEXEC, 0);
  if (fd < 0) throw new Error(`cannot open ${path}`);
  ctx.fds.push(fd);
  return fd;
}

const O_RDONLY = 0;
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

/** Descriptors of things that are not what the call wants. */
const foreignFds: Sub[] = [
  {
    label: "an eventfd",
    value: (ctx) => {
      const fd = libc().eventfd(0, 0o2000000);
      ctx.fds.push(fd);
      return fd;
    },
    validity: "either",
  },
  {
    label: "a FIFO's read end",
    value: (ctx) => openFd(ctx, ctx.fifo(), O_RDONLY | O_NONBLOCK),
    validity: "either",
  },
  {
    label: "a directory",
    value: (ctx) => openFd(ctx, ctx.dir, O_RDONLY | O_DIRECTORY),
    validity: "either",
  },
  {
    label: "/dev/zero",
    value: (ctx) => openFd(ctx, "/dev/zero", O_RDWR),
    validity: "either",
  },
  {
    label: "an empty regular file",
    value: (ctx) => openFd(ctx, ctx.existingFile(0), O_RDWR),
    validity: "either",
  },
  {
    label: "a regular file opened read-only",
    value: (ctx) => openFd(ctx, ctx.existingFile(SIZE), O_RDONLY),
    validity: "either",
  },
];

const fdKind = (base: (ctx: Ctx) => number): Kind => {
  const kind = numberKind(
    base,
    (n) =>
      Number.isInteger(n) && n >= 0 && n <= 2 ** 31 - 1 ? "either" : "invalid",
    {
      skip: ["0"],
      extra: [["99999 (not open)", 99999]],
    },
  );
  return { ...kind, subs: [...kind.subs, ...foreignFds] };
};

/** A descriptor the case may hand over; closed at cleanup unless adopted. */
function dupOf(ctx: Ctx): number {
  const fd = ctx.fx.m.dup();
  ctx.fds.push(fd);
  return fd;
}

const memfd: ClassSpec = {
  label: "Memfd",
  exportName: "Memfd",
  target: Memfd,
  fixture: (ctx) => {
    const m = Memfd.create(`${ctx.tag}_fixture`, { size: SIZE });
    ctx.defer(() => m.close());
    return ctx.fx.m = m;
  },
  states: closed,
  entries: [
    { name: "create", kind: "static", params: memfdParams() },
    {
      name: "fromDescriptor",
      kind: "static",
      fixture: true,
      params: [
        ["fd", fdKind(dupOf)],
        [
          "options",
          optionsKind({
            access: accessKind(["read", "read-write"]),
            readOnly: withValidity(booleanKind(undefined), "true", "either"),
            name: {
              base: () => undefined,
              subs: [
                { label: '"x"', value: () => "x", validity: "valid" },
                ...wrongTypes("string"),
              ],
            },
          }),
        ],
      ],
      // The result owns the descriptor it adopted.
      dispose: (r: Any, ctx: Ctx) => {
        const fd = r.fd;
        r.close();
        const at = ctx.fds.indexOf(fd);
        if (at !== -1) ctx.fds.splice(at, 1);
      },
    },
    ...mappingEntries(),
    { name: "seals", kind: "getter" },
    {
      name: "addSeals",
      kind: "method",
      // {} adds no seal: valid; undefined is not an object of seals.
      params: [["seals", withValidity(sealsKind(false), "{}", "valid")]],
    },
    { name: "inheritable", kind: "getter" },
    {
      name: "inheritable",
      kind: "setter",
      params: [["value", booleanKind(true, false)]],
    },
    {
      name: "dup",
      kind: "method",
      dispose: (fd: Any) => {
        if (typeof fd === "number") libc().close(fd);
      },
    },
  ],
};

const sysvSharedMemory: ClassSpec = {
  label: "SysvSharedMemory",
  exportName: "SysvSharedMemory",
  target: SysvSharedMemory,
  fixture: (ctx) => {
    const m = SysvSharedMemory.temporary({ size: SIZE });
    ctx.defer(() => m.close());
    return ctx.fx.m = m;
  },
  states: closed,
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
            size: sizeKind(SIZE), // required with create: true (the base)
            access: accessKind(["read", "read-write"]),
          }),
        ],
      ],
    },
    {
      name: "private",
      kind: "static",
      params: [[
        "options",
        optionsKind({
          size: sizeKind(SIZE),
          mode: modeKind(0o777),
        }, { optional: false }),
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
          size: sizeKind(SIZE),
          mode: modeKind(0o777),
        }, { optional: false }),
      ]],
    },
    ...sysvIdStatics((ctx) => ctx.fx.m.id, ["read", "read-write"]),
    { name: "keyFromPath", kind: "static", params: keyFromPathParams() },
    ...mappingEntries().filter((e) => e.name !== "fd"),
    { name: "attributes", kind: "getter" },
    { name: "remove", kind: "method" },
  ],
};

const rangeKind = numberKind(
  0,
  (n) => Number.isSafeInteger(n) && n >= 0 ? "valid" : "invalid",
  { optional: true },
);

const rangeFields = (): Record<string, Kind> => ({
  exclusive: booleanKind(undefined),
  start: rangeKind,
  length: rangeKind,
});

const mechanismKind = enumKind(undefined, ["fcntl", "flock"], ["posix"]);

/** How long a call on a waiting fixture may stay pending. */
const WAITING_BOUND = 50;

function lockEntries(short: boolean): Entry[] {
  return [
    {
      name: "lockSync",
      kind: "method",
      // On a waiting fixture only bounded timeouts: no limit blocks for good.
      params: [[
        "options",
        short
          ? optionsKind({ ...rangeFields(), timeout: timeoutKind(2, false) }, {
            skip: ["undefined", "{}"],
          })
          : optionsKind({ ...rangeFields(), timeout: timeoutKind(20) }),
      ]],
    },
    {
      name: "lock",
      kind: "method",
      params: [[
        "options",
        optionsKind({
          ...rangeFields(),
          timeout: timeoutKind(short ? 2 : 20),
          signal: signalKind,
        }),
      ]],
    },
    {
      name: "tryLock",
      kind: "method",
      params: [["options", optionsKind(rangeFields())]],
    },
    {
      name: "holder",
      kind: "method",
      params: [["options", optionsKind(rangeFields())]],
    },
  ];
}

function fileLockEntries(): Entry[] {
  return [
    ...lockEntries(false),
    { name: "fd", kind: "getter" },
    ...closers([CLOSED]),
  ];
}

/** A lock on a file another open file description holds locked. */
function heldLock(mechanism: "fcntl" | "flock") {
  return (ctx: Ctx) => {
    const path = ctx.existingFile(16);
    const other = FileLock.open(path, { mechanism });
    ctx.defer(() => other.close());
    other.lockSync();
    const lock = FileLock.open(path, { mechanism });
    ctx.defer(() => lock.close());
    return ctx.fx.lock = lock;
  };
}

function lockFixture(mechanism: "fcntl" | "flock") {
  return (ctx: Ctx) => {
    const lock = FileLock.open(ctx.existingFile(16), { mechanism });
    ctx.defer(() => lock.close());
    return ctx.fx.lock = lock;
  };
}

const fileLock: ClassSpec = {
  label: "FileLock",
  exportName: "FileLock",
  target: FileLock,
  fixture: lockFixture("fcntl"),
  states: closed,
  entries: [
    {
      name: "open",
      kind: "static",
      params: [
        ["path", pathKind((ctx) => ctx.existingFile(16), false)],
        [
          "options",
          optionsKind({
            create: booleanKind(undefined),
            mode: modeKind(0o7777),
            access: accessKind(["read", "read-write"]),
            mechanism: mechanismKind,
          }),
        ],
      ],
    },
    {
      name: "fromDescriptor",
      kind: "static",
      fixture: true,
      params: [
        ["fd", fdKind((ctx) => ctx.fx.lock.fd)],
        ["options", optionsKind({ mechanism: mechanismKind })],
      ],
    },
    ...fileLockEntries(),
  ],
};

const flockLock: ClassSpec = {
  label: "FileLock (flock)",
  exportName: "FileLock",
  target: FileLock,
  fixture: lockFixture("flock"),
  states: closed,
  entries: fileLockEntries(),
};

const heldFcntl: ClassSpec = {
  label: "FileLock (held elsewhere)",
  exportName: "FileLock",
  target: FileLock,
  fixture: heldLock("fcntl"),
  bound: WAITING_BOUND,
  entries: lockEntries(true),
};

const heldFlock: ClassSpec = {
  label: "FileLock (flock, held elsewhere)",
  exportName: "FileLock",
  target: FileLock,
  fixture: heldLock("flock"),
  bound: WAITING_BOUND,
  entries: lockEntries(true),
};

const RELEASED = "after release()";
const LOCK_CLOSED = "after the lock's close()";
const always = { [RELEASED]: "valid", [LOCK_CLOSED]: "valid" } as const;

const fileLockGuard: ClassSpec = {
  label: "FileLockGuard",
  exportName: "FileLockGuard",
  target: shm.FileLockGuard,
  fixture: (ctx) => {
    const lock = lockFixture("fcntl")(ctx);
    const guard = lock.lockSync();
    ctx.defer(() => guard.release());
    return guard;
  },
  states: {
    [RELEASED]: (g: Any) => g.release(),
    [LOCK_CLOSED]: (_g: Any, ctx: Ctx) => ctx.fx.lock.close(),
  },
  entries: [
    { name: "release", kind: "method", states: always },
    { name: Symbol.dispose, kind: "method", states: always },
    { name: "released", kind: "getter", states: always },
  ],
};

const functions: ClassSpec = {
  label: "functions",
  exportName: "",
  target: shm,
  entries: [
    { name: "mapFile", kind: "static", params: mapFileParams() },
    { name: "createMemfd", kind: "static", params: memfdParams() },
  ],
};

// Opening for reading alone is where a FIFO would block: the same paths
// again with options that open read-only.
const readOpens: ClassSpec[] = [
  {
    label: "MappedFile (access: read)",
    exportName: "MappedFile",
    target: MappedFile,
    entries: [{
      name: "open",
      kind: "static",
      params: [
        ["path", pathKind((ctx) => ctx.existingFile(SIZE), true)],
        ["options", optionsKind({ access: enumKind("read", ["read"], []) })],
      ],
    }],
  },
  {
    label: "FileLock (access: read)",
    exportName: "FileLock",
    target: FileLock,
    entries: [{
      name: "open",
      kind: "static",
      params: [
        ["path", pathKind((ctx) => ctx.existingFile(16), false)],
        [
          "options",
          optionsKind({
            access: enumKind("read", ["read"], []),
            mechanism: mechanismKind,
          }),
        ],
      ],
    }],
  },
];

const readOnlySpecs: ClassSpec[] = [
  readOnly("SharedMemory", "SharedMemory", SharedMemory, (ctx) => {
    sharedMemory.fixture!(ctx);
    const m = SharedMemory.open(ctx.fx.m.name, { access: "read" });
    ctx.defer(() => m.close());
    return m;
  }, () => true),
  readOnly("MappedFile", "MappedFile", MappedFile, (ctx) => {
    const m = MappedFile.open(ctx.existingFile(SIZE));
    ctx.defer(() => m.close());
    return m;
  }),
  readOnly("Memfd", "Memfd", Memfd, (ctx) => {
    memfd.fixture!(ctx);
    const m = Memfd.fromDescriptor(ctx.fx.m.dup(), { access: "read" });
    ctx.defer(() => m.close());
    return m;
  }),
  readOnly("SysvSharedMemory", "SysvSharedMemory", SysvSharedMemory, (ctx) => {
    sysvSharedMemory.fixture!(ctx);
    const m = SysvSharedMemory.fromId(ctx.fx.m.id, { access: "read" });
    ctx.defer(() => m.close());
    return m;
  }, (e) => e.name !== "resize" && e.name !== "fd"),
];

/** Every description, in the order the cases run. */
export const SPECS: readonly ClassSpec[] = [
  sharedMemory,
  mappedFile,
  memfd,
  sysvSharedMemory,
  fileLock,
  flockLock,
  heldFcntl,
  heldFlock,
  fileLockGuard,
  functions,
  ...readOpens,
  ...readOnlySpecs,
];

/** Makes every lazily opened resource before the cases. */
export function warmUp(): Promise<void> {
  using a = SharedMemory.temporary({ size: SIZE });
  a.view(Int32Array)[0] = 1;
  using b = createMemfd("warm", { size: SIZE });
  b.write("x");
  using c = SysvSharedMemory.temporary({ size: SIZE });
  c.read(0, 1);
  using m = mapFile(`/proc/self/exe`, { size: SIZE });
  m.read(0, 1);
  return Promise.resolve();
}

/** A check that the process still works after every case. */
export async function canary(): Promise<void> {
  await warmUp();
}
