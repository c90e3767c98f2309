// The cases of tests/shm that could hang, crash or fill the machine if a
// fix regressed, run in a child process (Deno or Bun) so that a regression
// fails one test. Each prints one line of JSON, or "ready" first where the
// parent arms a watchdog.
//
//   lock-timeouts <path> <sync|async>=<timeout as JSON, or NaN>...
//       another handle holds the lock; lockSync()/lock() with each timeout
//   size <shm|memfd|sysv|resize|mapfile> <bytes> [name or path]
//       prints "ready", then creates (or grows to) that many bytes
//   map <path>...          prints "ready", then mapFile(path) of each: a
//                          FIFO, a directory, a device
//   moved <kind> <how> <then>
//       kind: shm, file, memfd, sysv; how: transfer, clone (structuredClone
//       with transfer), none; then: close, resize, remap. Moves the buffer
//       away, does <then>, touches the moved buffer and the handle's new one
//   enospc                 (inside a private 1 MiB /dev/shm) create and
//       resize beyond it
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import {
  createMemfd,
  FileLock,
  IpcError,
  mapFile,
  type MappedMemory,
  SharedMemory,
  SysvSharedMemory,
} from "../../shm/mod.ts";

const [mode, ...args] = process.argv.slice(2);

function outcome(error: unknown): Record<string, unknown> {
  if (error instanceof IpcError) {
    return { error: "IpcError", code: error.code, message: error.message };
  }
  const e = error as Error;
  return { error: e?.name ?? String(error), message: e?.message };
}

function print(value: unknown): void {
  console.log(JSON.stringify(value));
}

function unlinkQuietly(name: string): void {
  try {
    SharedMemory.unlink(name);
  } catch { /* never created */ }
}

switch (mode) {
  case "lock-timeouts": {
    const [path, ...cases] = args;
    using holder = FileLock.open(path, { create: true });
    using waiter = FileLock.open(path);
    using _held = holder.lockSync();
    for (const spec of cases) {
      const [how, timeout] = spec.split("=");
      // "NaN" is not JSON; everything else is ({}, -1, "100", null...).
      const options = {
        timeout: (timeout === "NaN" ? NaN : JSON.parse(timeout)) as number,
      };
      try {
        if (how === "sync") waiter.lockSync(options);
        else await waiter.lock(options);
        print({ spec, locked: true });
      } catch (error) {
        print({ spec, ...outcome(error) });
      }
    }
    break;
  }
  case "size": {
    const [kind, bytes, where] = args;
    const size = Number(bytes);
    console.log("ready");
    let made: MappedMemory | undefined;
    try {
      switch (kind) {
        case "shm":
          made = SharedMemory.open(where, { create: true, size });
          break;
        case "memfd":
          made = createMemfd("ipckit-huge", { size });
          break;
        case "sysv":
          made = SysvSharedMemory.temporary({ size });
          break;
        case "resize": {
          const shm = SharedMemory.temporary({ size: 4096 });
          made = shm;
          shm.resize(size);
          break;
        }
        case "mapfile":
          made = mapFile(where, { size, create: true, access: "read-write" });
          break;
      }
      print({ made: made?.size });
    } catch (error) {
      print(outcome(error));
    } finally {
      made?.close();
      if (kind === "shm") unlinkQuietly(where);
    }
    break;
  }
  case "map": {
    console.log("ready");
    for (const path of args) {
      try {
        mapFile(path).close();
        print({ path, mapped: true });
      } catch (error) {
        print({ path, ...outcome(error) });
      }
    }
    break;
  }
  case "moved": {
    const [kind, how, then] = args;
    const dir = mkdtempSync(`${tmpdir()}/ipckit_test-moved-`);
    let memory: MappedMemory & { resize?(n: number): void; remap?(): number };
    switch (kind) {
      case "shm":
        memory = SharedMemory.temporary({ size: 4096 });
        break;
      case "file":
        memory = mapFile(`${dir}/moved.bin`, {
          size: 4096,
          create: true,
          access: "read-write",
        });
        break;
      case "memfd":
        memory = createMemfd("ipckit-moved", { size: 4096 });
        break;
      default:
        memory = SysvSharedMemory.temporary({ size: 4096 });
    }
    const view = new Int32Array(memory.buffer);
    view[0] = 7;
    let moved: ArrayBuffer = memory.buffer;
    if (how === "transfer") {
      moved = (memory.buffer as ArrayBuffer & { transfer(): ArrayBuffer })
        .transfer();
    } else if (how === "clone") {
      moved = structuredClone(memory.buffer, { transfer: [memory.buffer] });
    }
    const before = new Int32Array(moved)[0];
    let fresh: number | string = "none";
    if (then === "close") {
      memory.close();
    } else {
      if (then === "resize") memory.resize!(8192);
      else if (then === "remap") {
        const other = SharedMemory.open((memory as SharedMemory).name);
        other.resize(8192);
        other.close();
        memory.remap!();
      }
      fresh = new Int32Array(memory.buffer)[0];
    }
    // The stale views: each either reads as empty or reads private memory.
    let movedReads: number | undefined;
    let movedFirst: number | undefined;
    if (moved.byteLength > 0) {
      const stale = new Int32Array(moved);
      // Private zeroed memory now, not the 7 of the shared memory.
      movedFirst = stale[0];
      stale[1] = 5;
      movedReads = stale[1];
    }
    view[1] = 5;
    print({
      before,
      movedLength: moved.byteLength,
      movedReads,
      movedFirst,
      viewLength: view.length,
      fresh,
    });
    if (then !== "close") memory.close();
    rmSync(dir, { recursive: true, force: true });
    break;
  }
  case "enospc": {
    const name = `/ipckit_enospc_${process.pid}`;
    const result: Record<string, unknown> = {};
    try {
      SharedMemory.open(name, { create: true, size: 4 << 20 }).close();
      result.create = "made";
    } catch (error) {
      result.create = outcome(error);
    }
    result.leftBehind = (() => {
      try {
        SharedMemory.open(name).close();
        return true;
      } catch {
        return false;
      }
    })();
    unlinkQuietly(name);
    using shm = SharedMemory.temporary({ size: 4096 });
    try {
      shm.resize(4 << 20);
      result.resize = "grown";
    } catch (error) {
      result.resize = outcome(error);
    }
    result.size = shm.size;
    print(result);
    break;
  }
  default:
    console.log(`unknown mode ${mode}`);
    process.exit(2);
}
