// What capturing errno costs per call: the trampoline (errno copied in the
// call's own native frame) against direct binding (errno read by a second
// call), for a failing call and a trivial one. Run under each runtime:
//
//   deno run --allow-ffi bench/errno_cost.ts [direct]
//   bun run bench/errno_cost.ts [direct]
import process from "node:process";
import {
  arch,
  backend,
  errno,
  errnoCapture,
  libc,
  useDirectBinding,
} from "../ffi/mod.ts";

if (process.argv[2] === "direct") useDirectBinding();
const N = 2_000_000;
const c = libc();
const fd = c.eventfd(0, 0x80800);
const counter = new BigUint64Array(1);

function measure(name: string, f: () => void): void {
  for (let i = 0; i < N / 10; i++) f(); // warm up
  const start = performance.now();
  for (let i = 0; i < N; i++) f();
  const ns = (performance.now() - start) * 1e6 / N;
  console.log(`${name.padEnd(34)} ${ns.toFixed(0).padStart(5)} ns`);
}

const runtime = backend().runtime;
const version = (globalThis as { Deno?: { version: { deno: string } } }).Deno
  ?.version.deno ??
  (globalThis as { Bun?: { version: string } }).Bun?.version;
// Baseline: the same calls bound directly (run again with "direct").
console.log(`${runtime} ${version}, errno capture: ${errnoCapture()}`);
const SYS_GETPID = arch().name === "aarch64" ? 172 : 39;
measure("close(-1) + errno()", () => {
  if (c.close(-1) === -1) errno();
});
measure("read(empty eventfd) + errno()", () => {
  if (c.read(fd, counter, 8) === -1) errno();
});
measure("getpid()", () => {
  c.getpid();
});
measure("syscall(SYS_getpid), 7 arguments", () => {
  c.syscall(SYS_GETPID, 0, 0, 0, null, 0, 0);
});
c.close(fd);
