// Every public entry point of shm/ checks its arguments at the door: wrong
// types are TypeErrors naming the parameter, bad numbers RangeErrors, closed
// handles EBADF; nothing is coerced, and nothing is acquired before the
// checks pass (or left behind when a later step fails).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  createMemfd,
  FileLock,
  mapFile,
  Memfd,
  SharedMemory,
  SysvSharedMemory,
} from "../../shm/mod.ts";
import { assertIpcError, removeQuietly } from "../helpers/assert.ts";
import { peerEnv, ROOT, testDir, testKey, testName } from "../helpers/peer.ts";

/** An assert.throws() predicate: this error class, naming `name`. */
function naming(
  type: typeof TypeError | typeof RangeError,
  name: string | RegExp,
): (error: unknown) => boolean {
  return (error: unknown): boolean => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    if (typeof name === "string") {
      assert.ok(
        (error as Error).message.includes(name),
        `"${(error as Error).message}" does not name ${name}`,
      );
    } else assert.match((error as Error).message, name);
    return true;
  };
}

// deno-lint-ignore no-explicit-any
const loose = (value: unknown): any => value;

/** This process's mappings and descriptors of memfds called `name`. */
function memfdsNamed(name: string): { maps: number; fds: number } {
  const tag = `/memfd:${name} `;
  const maps = readFileSync("/proc/self/maps", "utf8").split("\n")
    .filter((l) => l.includes(tag.trimEnd())).length;
  let fds = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(tag.trim())) fds++;
    } catch { /* closed meanwhile */ }
  }
  return { maps, fds };
}

test("SharedMemory.open() and temporary() refuse options of the wrong type before any syscall", () => {
  const name = testName();
  const bad: [unknown, (e: unknown) => boolean][] = [
    ["str", naming(TypeError, "options")],
    [null, naming(TypeError, "options")],
    [[], naming(TypeError, "options")],
    [{ create: "yes", size: 8 }, naming(TypeError, "create")],
    [{ create: true, exclusive: 1, size: 8 }, naming(TypeError, "exclusive")],
    [{ create: true, size: "8" }, naming(TypeError, "size")],
    [{ create: true, size: 8, mode: "600" }, naming(TypeError, "mode")],
    [{ create: true, size: 8, mode: 0.5 }, naming(RangeError, "mode")],
    [{ create: true, size: 8, mode: null }, naming(TypeError, "mode")],
    [{ create: true, size: 2 ** 53 }, naming(RangeError, "size")],
    [{ create: true, size: 8, access: "write" }, naming(TypeError, "access")],
    [{ create: true, size: 8, access: null }, naming(TypeError, "access")],
  ];
  for (const [options, expected] of bad) {
    assert.throws(() => SharedMemory.open(name, loose(options)), expected);
  }
  assert.throws(() => SharedMemory.temporary(loose(undefined)), TypeError);
  assert.throws(() => SharedMemory.temporary(loose("big")), TypeError);
  assert.throws(
    () => SharedMemory.temporary({ size: loose(null) }),
    naming(TypeError, "size"),
  );
  assert.equal(existsSync(`/dev/shm${name}`), false, "nothing was created");
});

test("view(), read(), readInto() and write() refuse null, strings, NaN, fractions and DataView", () => {
  using shm = SharedMemory.temporary({ size: 64 });
  assert.throws(
    () => shm.view(Int32Array, 0, loose(null)),
    naming(TypeError, "length"),
  );
  assert.throws(() => shm.read(0, loose(null)), naming(TypeError, "length"));
  assert.throws(() => shm.read(loose(null)), naming(TypeError, "byteOffset"));
  assert.throws(
    () => shm.view(Int32Array, loose("4")),
    naming(TypeError, "byteOffset"),
  );
  assert.throws(() => shm.view(Int32Array, NaN), RangeError);
  assert.throws(() => shm.view(Int32Array, 0, NaN), RangeError);
  assert.throws(() => shm.view(Int32Array, 0, 1.5), RangeError);
  assert.throws(() => shm.read(0, 2 ** 53), RangeError);
  // Bun's DataView has BYTES_PER_ELEMENT 1; both runtimes refuse it.
  assert.throws(() => shm.view(loose(DataView)), naming(TypeError, "DataView"));
  assert.throws(() => shm.view(loose(Array)), TypeError);
  assert.throws(() => shm.view(loose("Int32Array")), TypeError);
  assert.throws(() => shm.view(loose({ BYTES_PER_ELEMENT: 4 })), TypeError);
  assert.throws(
    () => shm.readInto(loose("target")),
    naming(TypeError, "target"),
  );
  assert.throws(() => shm.readInto(loose([0, 0])), naming(TypeError, "target"));
  assert.throws(() => shm.write(loose(42)), naming(TypeError, "data"));
  assert.throws(() => shm.write(loose(null)), naming(TypeError, "data"));
  assert.throws(() => shm.write(loose([1, 2])), naming(TypeError, "data"));
  assert.throws(
    () => shm.write("x", loose("0")),
    naming(TypeError, "byteOffset"),
  );
});

test("write() copies every byte of any ArrayBufferView or ArrayBuffer, honouring byteOffset and byteLength", () => {
  using shm = SharedMemory.temporary({ size: 64 });
  const backing = new Uint8Array(32).map((_, i) => i + 1);
  const inputs: [string, string | ArrayBufferView | ArrayBuffer, number[]][] = [
    ["Uint8Array", new Uint8Array([9, 8, 7]), [9, 8, 7]],
    ["Int32Array", new Int32Array([0x04030201, 0x08070605]), [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
    ]],
    ["a subarray", backing.subarray(4, 7), [5, 6, 7]],
    ["a Uint16Array at an offset", new Uint16Array(backing.buffer, 8, 2), [
      9,
      10,
      11,
      12,
    ]],
    ["a DataView at an offset", new DataView(backing.buffer, 2, 3), [3, 4, 5]],
    ["a Float64Array", new Float64Array([1]), [0, 0, 0, 0, 0, 0, 240, 63]],
    ["an ArrayBuffer", backing.buffer.slice(0, 4), [1, 2, 3, 4]],
    ["a string", "hé", [0x68, 0xc3, 0xa9]],
  ];
  for (const [what, data, bytes] of inputs) {
    new Uint8Array(shm.buffer).fill(0xee);
    assert.equal(shm.write(data, 16), bytes.length, what);
    assert.deepEqual([...shm.read(15, bytes.length + 2)], [
      0xee,
      ...bytes,
      0xee,
    ], what);
  }
  // All or nothing: bytes that do not fit are not written at all.
  new Uint8Array(shm.buffer).fill(0);
  assert.throws(() => shm.write(new Uint8Array(8).fill(1), 60), RangeError);
  assert.deepEqual([...shm.read(56)], new Array(8).fill(0));
  assert.equal(shm.write(new Uint8Array(0), 64), 0);
  // readInto() fills every byte of any view, too.
  shm.write(new Uint8Array(16).map((_, i) => i));
  const target = new Float64Array(2);
  assert.equal(shm.readInto(target), 16);
  assert.deepEqual(
    [...new Uint8Array(target.buffer)],
    [...new Array(16).keys()],
  );
  const window = new Uint8Array(8);
  assert.equal(shm.readInto(new DataView(window.buffer, 2, 4), 4), 4);
  assert.deepEqual([...window], [0, 0, 4, 5, 6, 7, 0, 0]);
  // A read-only mapping cannot be written.
  using ro = SharedMemory.open(shm.name, { access: "read" });
  assert.throws(() => ro.write("x"), /read-only/);
  shm.close();
  assert.throws(() => shm.write("x"), assertIpcError("EBADF"));
});

test("createMemfd() checks every option before any syscall: a bad seal leaves nothing mapped or open", () => {
  const label = `ipckit-leak-${process.pid}`;
  const before = memfdsNamed(label);
  for (let i = 0; i < 10; i++) {
    assert.throws(
      () => createMemfd(label, { size: 64 << 20, seal: loose(null) }),
      naming(TypeError, "seal"),
    );
  }
  for (
    const seal of [
      "yes",
      true,
      [],
      { shrink: "yes" },
      { shrink: 1 },
      { writes: true },
    ]
  ) {
    assert.throws(
      () => createMemfd(label, { size: 64 << 20, seal: loose(seal) }),
      TypeError,
      JSON.stringify(seal),
    );
  }
  assert.throws(
    () => createMemfd(label, { size: 8, closeOnExec: loose("no") }),
    naming(TypeError, "closeOnExec"),
  );
  assert.throws(() => createMemfd(label, loose("str")), TypeError);
  assert.throws(() => createMemfd(label, loose(undefined)), TypeError);
  assert.throws(
    () => createMemfd(label, { size: loose("8") }),
    naming(TypeError, "size"),
  );
  assert.deepEqual(memfdsNamed(label), before, "no mapping or fd was left");
  using mem = createMemfd(label, { size: 4096 });
  assert.deepEqual(memfdsNamed(label), {
    maps: before.maps + 1,
    fds: before.fds + 1,
  });
  for (const seals of [null, undefined, "yes", { grow: "yes" }, { nope: 1 }]) {
    assert.throws(() => mem.addSeals(loose(seals)), TypeError);
  }
  assert.deepEqual(mem.seals, {
    shrink: false,
    grow: false,
    write: false,
    seal: false,
  });
  assert.throws(() => {
    mem.inheritable = loose("yes");
  }, naming(TypeError, "inheritable"));
});

test("Memfd.fromDescriptor() takes access (readOnly still works), checks types, and refuses a pipe", () => {
  using mem = createMemfd("ipckit-adopt", {
    size: 4096,
    seal: { write: true },
  });
  assert.throws(
    () => Memfd.fromDescriptor(loose("3")),
    naming(TypeError, "fd"),
  );
  assert.throws(() => Memfd.fromDescriptor(1.5), RangeError);
  // On failure the descriptor stays the caller's: the same one is adopted
  // at the end.
  const fd = mem.dup();
  assert.throws(
    () => Memfd.fromDescriptor(fd, loose({ access: "write" })),
    naming(TypeError, "access"),
  );
  assert.throws(
    () => Memfd.fromDescriptor(fd, loose({ readOnly: "yes" })),
    naming(TypeError, "readOnly"),
  );
  assert.throws(
    () => Memfd.fromDescriptor(fd, loose({ name: 5 })),
    naming(TypeError, "name"),
  );
  assert.throws(
    () => Memfd.fromDescriptor(fd, { access: "read-write" }),
    (e) => assertIpcError("EPERM")(e) && /sealed/.test(String(e)),
  );
  using ro = Memfd.fromDescriptor(fd, { access: "read" });
  assert.throws(() => ro.buffer, /read-only/);
  using old = Memfd.fromDescriptor(mem.dup(), { readOnly: true });
  assert.throws(() => old.buffer, /read-only/);
  assert.throws(
    () => Memfd.fromDescriptor(mem.dup(), { readOnly: false, access: "read" }),
    /contradicts/,
  );
  // A descriptor that is not a file: a FIFO opened read-write (which never
  // blocks on Linux).
  const dir = testDir("adopt-fifo");
  try {
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    const pipe = openSync(fifo, "r+");
    try {
      assert.throws(
        () => Memfd.fromDescriptor(pipe),
        (e) => assertIpcError("ENODEV")(e) && /FIFO/.test(String(e)),
      );
    } finally {
      closeSync(pipe);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mapFile() takes access (writable still works), defaults new files to 0o600, and checks option types", () => {
  const dir = testDir("map-options");
  try {
    const path = join(dir, "data.bin");
    {
      using map = mapFile(path, {
        size: 4096,
        create: true,
        access: "read-write",
      });
      assert.equal(map.writable, true);
      map.write("hello");
    }
    assert.equal(statSync(path).mode & 0o777, 0o600);
    using ro = mapFile(path);
    assert.equal(ro.writable, false, 'the default is access: "read"');
    using old = mapFile(path, { writable: true });
    assert.equal(old.writable, true, "the deprecated writable still works");
    assert.equal(new TextDecoder().decode(old.read(0, 5)), "hello");
    const bad: [unknown, (e: unknown) => boolean][] = [
      ["str", naming(TypeError, "options")],
      [{ access: "write" }, naming(TypeError, "access")],
      [{ writable: "yes" }, naming(TypeError, "writable")],
      [{ writable: true, access: "read" }, /contradicts/ as never],
      [{ shared: 0 }, naming(TypeError, "shared")],
      [{ create: "yes", size: 8 }, naming(TypeError, "create")],
      [{ size: "8" }, naming(TypeError, "size")],
      [{ size: 8, mode: "644" }, naming(TypeError, "mode")],
    ];
    for (const [options, expected] of bad) {
      assert.throws(() => mapFile(path, loose(options)), expected as never);
    }
    assert.throws(() => mapFile(loose(42)), naming(TypeError, "path"));
    assert.throws(() => mapFile(loose(null)), naming(TypeError, "path"));
    assert.throws(() => mapFile(`${path}\0x`), TypeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("FileLock.open() creates only when asked (mode 0o600), takes access, and checks option types", () => {
  const dir = testDir("lock-options");
  try {
    const path = join(dir, "lock");
    assert.throws(
      () => FileLock.open(path),
      (e) =>
        assertIpcError("ENOENT", "open")(e) && /create: true/.test(String(e)),
    );
    assert.equal(existsSync(path), false);
    FileLock.open(path, { create: true }).close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    using reader = FileLock.open(path, { access: "read" });
    using shared = reader.lockSync({ exclusive: false });
    assert.ok(shared);
    assert.throws(
      () => reader.tryLock(),
      (e) => assertIpcError("EBADF")(e) && /access: "read"/.test(String(e)),
    );
    shared.release();
    using flock = FileLock.open(path, { access: "read", mechanism: "flock" });
    assert.ok(flock.tryLock(), "flock needs no write access");
    const bad: [unknown, (e: unknown) => boolean][] = [
      ["str", naming(TypeError, "options")],
      [{ create: "yes" }, naming(TypeError, "create")],
      [{ mode: "600" }, naming(TypeError, "mode")],
      [{ access: "rw" }, naming(TypeError, "access")],
      [{ mechanism: null }, naming(TypeError, "mechanism")],
    ];
    for (const [options, expected] of bad) {
      assert.throws(() => FileLock.open(path, loose(options)), expected);
    }
    assert.throws(() => FileLock.open(loose(7)), naming(TypeError, "path"));
    assert.throws(
      () => FileLock.fromDescriptor(loose("3")),
      naming(TypeError, "fd"),
    );
    assert.throws(() => FileLock.fromDescriptor(0, loose("fcntl")), TypeError);
    using file = FileLock.open(path);
    for (
      const [options, type, name] of [
        [{ exclusive: "yes" }, TypeError, "exclusive"],
        [{ start: "1" }, TypeError, "start"],
        [{ length: null }, TypeError, "length"],
        [{ start: NaN }, RangeError, "start"],
        [{ length: 2 ** 53 }, RangeError, "length"],
      ] as const
    ) {
      assert.throws(() => file.tryLock(loose(options)), naming(type, name));
      assert.throws(() => file.lockSync(loose(options)), naming(type, name));
      assert.throws(() => file.holder(loose(options)), naming(type, name));
    }
    assert.throws(() => file.tryLock(loose("x")), naming(TypeError, "options"));
    return assert.rejects(
      file.lock(loose({ signal: {} })),
      naming(TypeError, "signal"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SysvSharedMemory checks key, id and option types; refuses a segment larger than memory", () => {
  assert.throws(
    () => SysvSharedMemory.open(loose("1")),
    naming(TypeError, "key"),
  );
  const key = testKey();
  assert.throws(
    () => SysvSharedMemory.open(key, loose("str")),
    naming(TypeError, "options"),
  );
  assert.throws(
    () => SysvSharedMemory.open(key, loose({ create: 1, size: 8 })),
    naming(TypeError, "create"),
  );
  assert.throws(
    () => SysvSharedMemory.open(key, { create: true, size: 2 ** 40 }),
    naming(RangeError, "memory"),
  );
  assert.throws(
    () => SysvSharedMemory.private({ size: 2 ** 40 }),
    naming(RangeError, "memory"),
  );
  assert.throws(
    () => SysvSharedMemory.fromId(loose("1")),
    naming(TypeError, "id"),
  );
  assert.throws(
    () => SysvSharedMemory.remove(loose(null)),
    naming(TypeError, "id"),
  );
  assert.throws(
    () => SysvSharedMemory.keyFromPath("/tmp", loose("1")),
    naming(TypeError, "projectId"),
  );
  assert.throws(() => SysvSharedMemory.keyFromPath(loose(1), 1), TypeError);
  using seg = SysvSharedMemory.temporary({ size: 64 });
  assert.throws(
    () => SysvSharedMemory.fromId(seg.id, loose({ access: "rw" })),
    naming(TypeError, "access"),
  );
  assert.throws(
    () => SysvSharedMemory.open(key, { size: 8 }),
    assertIpcError("ENOENT"),
  );
});

/**
 * glibc's ftok(3), from node:fs: proj, then st_dev's and st_ino's low bits
 * (unsigned, as keyFromPath() gives it).
 */
function ftok(path: string, proj: number): number {
  const { dev, ino } = statSync(path, { bigint: true });
  return ((proj << 24) | (Number(dev & 0xffn) << 16) |
    Number(ino & 0xffffn)) >>> 0;
}

test("SysvSharedMemory.keyFromPath() matches ftok's recipe and needs only --allow-ffi in Deno", () => {
  const dir = testDir("ftok");
  try {
    const file = join(dir, "key");
    writeFileSync(file, "");
    const expected = ftok(file, 7);
    assert.equal(SysvSharedMemory.keyFromPath(file, 7), expected);
    assert.equal(
      SysvSharedMemory.keyFromPath("/", 255),
      ftok("/", 255),
    );
    assert.throws(
      () => SysvSharedMemory.keyFromPath(join(dir, "missing"), 1),
      assertIpcError("ENOENT", "open"),
    );
    const script = join(dir, "key.ts");
    writeFileSync(
      script,
      `import { SysvSharedMemory } from "${ROOT}shm/mod.ts";\n` +
        `console.log(SysvSharedMemory.keyFromPath(${
          JSON.stringify(file)
        }, 7));\n`,
    );
    const deno = `${ROOT}node_modules/deno/deno`;
    const out = execFileSync(
      deno,
      ["run", "--allow-ffi", "--no-prompt", "--quiet", script],
      { encoding: "utf8", env: peerEnv() },
    );
    assert.equal(Number(out.trim()), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SharedMemory.resize() on a read-only handle is EBADF before any syscall; sizes are checked", () => {
  const name = testName();
  try {
    using rw = SharedMemory.open(name, { create: true, size: 4096 });
    using ro = SharedMemory.open(name, { access: "read" });
    assert.throws(
      () => ro.resize(8192),
      (e) => assertIpcError("EBADF")(e) && /access: "read"/.test(String(e)),
    );
    assert.throws(() => rw.resize(loose("8192")), naming(TypeError, "size"));
    assert.throws(() => rw.resize(NaN), RangeError);
    assert.throws(() => rw.resize(2 ** 53), RangeError);
    assert.equal(rw.size, 4096);
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
});
