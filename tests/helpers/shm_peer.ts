// A shared-memory peer for cross-process tests, run under Deno or Bun:
//   write <name> <seed>        fills a POSIX object with the pattern; "done"
//   read <name> <size> <seed>  checks size and pattern; "ok" or the mismatch
//   open <name> <access>       opens it; "opened" or the error code
//   memfd <seed>               adopts fd 3 as a Memfd, checks the pattern,
//                              tries to shrink, grow and write it; prints JSON
//   sysv-read <id> <seed>      attaches a System V segment by id, checks it
//   lock <path> <mechanism> <start> <length>
//                              takes an exclusive lock, prints "locked",
//                              then holds it until killed
import {
  FileLock,
  IpcError,
  Memfd,
  SharedMemory,
  SysvSharedMemory,
} from "../../shm/mod.ts";
import { errno, libc } from "../../ffi/mod.ts";
import { fillPattern, patternMismatch } from "./shm_pattern.ts";

const [mode, a, b, c, d] = process.argv.slice(2);

function codeOf(error: unknown): string {
  return error instanceof IpcError ? error.code : String(error);
}

const ERRNO: Record<number, string> = {
  1: "EPERM",
  9: "EBADF",
  13: "EACCES",
  22: "EINVAL",
};

switch (mode) {
  case "write": {
    using shm = SharedMemory.open(a);
    fillPattern(new Uint8Array(shm.buffer), Number(b));
    console.log("done");
    break;
  }
  case "read": {
    using shm = SharedMemory.open(a, { access: "read" });
    if (shm.size !== Number(b)) {
      console.log(`size ${shm.size}, expected ${b}`);
      break;
    }
    console.log(patternMismatch(shm.read(), Number(c)) || "ok");
    break;
  }
  case "open": {
    try {
      SharedMemory.open(a, { access: b as "read" }).close();
      console.log("opened");
    } catch (e) {
      console.log(codeOf(e));
    }
    break;
  }
  case "memfd": {
    using mem = Memfd.fromDescriptor(3, { name: "inherited" });
    const result: Record<string, unknown> = {
      size: mem.size,
      pattern: patternMismatch(mem.read(), Number(a)) || "ok",
      seals: mem.seals,
    };
    const attempt = (
      r: number,
    ) => (r === -1 ? ERRNO[errno()] ?? errno() : "ok");
    result.shrink = attempt(libc().ftruncate(3, mem.size / 2));
    result.grow = attempt(libc().ftruncate(3, mem.size * 2));
    result.write = attempt(libc().write(3, new Uint8Array(1), 1));
    console.log(JSON.stringify(result));
    break;
  }
  case "sysv-read": {
    using seg = SysvSharedMemory.fromId(Number(a), { access: "read" });
    console.log(patternMismatch(seg.read(), Number(b)) || "ok");
    break;
  }
  case "lock": {
    const file = FileLock.open(a, { mechanism: b as "fcntl" });
    file.lockSync({ start: Number(c ?? 0), length: Number(d ?? 0) });
    console.log("locked");
    setInterval(() => {}, 1000);
    break;
  }
  default:
    console.log(`unknown mode ${mode}`);
    process.exit(2);
}
