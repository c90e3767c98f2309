import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { mapFile, MappedFile, Memfd } from "../../shm/mod.ts";
import {
  fillPattern,
  patternByte,
  patternMismatch,
} from "../helpers/shm_pattern.ts";
import { assertIpcError } from "../helpers/assert.ts";
import { rootTest, testDir } from "../helpers/peer.ts";

function withDir(run: (dir: string) => void): void {
  const dir = testDir("map");
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Kilobytes of this process's mappings of `path` that are dirty (written
 * and not yet written back to the file), from /proc/self/smaps.
 */
function dirtyKilobytes(path: string): number {
  let inside = false;
  let dirty = 0;
  let found = false;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inside = line.endsWith(` ${path}`);
      found ||= inside;
    } else if (inside) {
      const m = /^(?:Shared|Private)_Dirty:\s+(\d+) kB/.exec(line);
      if (m) dirty += Number(m[1]);
    }
  }
  assert.ok(found, `${path} is not mapped`);
  return dirty;
}

test("mapFile() creates and grows a file, and writes reach it after flush()", () => {
  withDir((dir) => {
    const path = join(dir, "data.bin");
    {
      using map = mapFile(path, {
        size: 8192,
        create: true,
        access: "read-write",
      });
      assert.equal(statSync(path).size, 8192);
      fillPattern(new Uint8Array(map.buffer), 5);
      // msync(MS_SYNC) writes the dirty pages back: none stays dirty.
      assert.ok(dirtyKilobytes(path) >= 8, "the writes dirtied both pages");
      map.flush();
      assert.equal(dirtyKilobytes(path), 0, "flush() wrote every page back");
      // Another open file description reads the bytes with read(2).
      const fd = openSync(path, "r");
      try {
        const bytes = new Uint8Array(8192);
        assert.equal(readSync(fd, bytes, 0, 8192, 0), 8192);
        assert.equal(patternMismatch(bytes, 5), "");
      } finally {
        closeSync(fd);
      }
      new Uint8Array(map.buffer)[4096] = patternByte(4096, 5); // same value
      assert.ok(dirtyKilobytes(path) >= 4, "a new write dirties a page again");
      map.flush();
      assert.equal(dirtyKilobytes(path), 0);
    }
    using bigger = mapFile(path, { size: 3 * 4096, access: "read-write" });
    assert.equal(statSync(path).size, 3 * 4096);
    assert.equal(patternMismatch(bigger.read(0, 8192), 5), "");
    using smaller = mapFile(path, { size: 100 });
    assert.equal(smaller.size, 100);
    assert.equal(
      statSync(path).size,
      3 * 4096,
      "a shorter map leaves the file",
    );
  });
});

test("mapFile() read-only maps have no writable buffer; private maps keep writes private", () => {
  withDir((dir) => {
    const path = join(dir, "ro.bin");
    writeFileSync(path, "hello world");
    using ro = mapFile(path);
    assert.equal(ro.writable, false);
    assert.throws(
      () => ro.buffer,
      (e) => e instanceof TypeError && /read-only/.test(String(e)),
    );
    assert.throws(() => ro.view(Uint8Array), TypeError);
    assert.equal(new TextDecoder().decode(ro.read()), "hello world");
    using priv = mapFile(path, { access: "read-write", shared: false });
    new Uint8Array(priv.buffer).set(new TextEncoder().encode("HELLO"));
    assert.equal(new TextDecoder().decode(priv.read(0, 5)), "HELLO");
    assert.equal(readFileSync(path, "utf8"), "hello world");
    assert.equal(new TextDecoder().decode(ro.read(0, 5)), "hello");
    using shared = mapFile(path, { access: "read-write" });
    new Uint8Array(shared.buffer)[0] = 0x4a; // "J"
    assert.equal(new TextDecoder().decode(ro.read(0, 5)), "Jello");
    assert.throws(
      () => mapFile(path, { size: 4096 }),
      (e) => assertIpcError("EINVAL")(e) && /grow/.test(String(e)),
    );
  });
});

test("mapFile() rejects missing and empty files, bad sizes and use after close", () => {
  withDir((dir) => {
    const path = join(dir, "x.bin");
    assert.throws(() => mapFile(path), assertIpcError("ENOENT", "open"));
    assert.throws(() => mapFile(path, { create: true }), TypeError);
    assert.throws(() => mapFile(""), TypeError);
    assert.throws(() => mapFile(new URL("https://example.com/x")), TypeError);
    for (const size of [0, -1, 2.5]) {
      assert.throws(() => mapFile(path, { size, create: true }), RangeError);
    }
    writeFileSync(path, "");
    assert.throws(
      () => mapFile(path),
      (e) => assertIpcError("EINVAL")(e) && /empty/.test(String(e)),
    );
    const map = MappedFile.open(new URL(`file://${path}`), {
      size: 64,
      access: "read-write",
    });
    const view = map.view(Int32Array);
    assert.throws(() => map.view(Int32Array, 3), RangeError);
    map.close();
    map.close();
    assert.equal(view.length, 0);
    assert.throws(() => map.flush(), assertIpcError("EBADF"));
    assert.throws(() => map.buffer, assertIpcError("EBADF"));
  });
});

rootTest(
  "mapFile() maps a block device at the device's size (from /sys/dev/block), and cannot grow it",
  "attaches a loop device (losetup)",
  () => {
    withDir((dir) => {
      const image = join(dir, "disk.img");
      writeFileSync(image, new Uint8Array(1 << 20));
      const device = execFileSync("losetup", ["-f", "--show", image], {
        encoding: "utf8",
      }).trim();
      try {
        {
          using map = mapFile(device, { access: "read-write" });
          assert.equal(map.size, 1 << 20, "st_size of a device is 0");
          map.write("block");
          map.flush();
          using ro = mapFile(device, { size: 4096 });
          assert.throws(
            () => Memfd.fromDescriptor(map.fd),
            (e) =>
              assertIpcError("ENODEV")(e) && /block device/.test(String(e)),
          );
          assert.equal(new TextDecoder().decode(ro.read(0, 5)), "block");
          assert.throws(
            () => mapFile(device, { size: 2 << 20, access: "read-write" }),
            (e) =>
              assertIpcError("EINVAL")(e) &&
              /block device has 1048576 bytes/.test(String(e)),
          );
        }
        execFileSync("blockdev", ["--flushbufs", device]);
        const fd = openSync(image, "r");
        try {
          const head = new Uint8Array(5);
          readSync(fd, head, 0, 5, 0);
          assert.equal(new TextDecoder().decode(head), "block");
        } finally {
          closeSync(fd);
        }
      } finally {
        execFileSync("losetup", ["-d", device]);
      }
    });
  },
);
