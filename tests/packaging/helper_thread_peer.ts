// Run by Bun against a copy of ffi/ (the path of its mod.ts is the first
// argument): one descriptor wait (the reactor) and one futex wait (the futex
// table) at once. "wake" makes both ready 50 ms later and expects them to
// resolve; "fail" expects them to reject (the helper thread cannot start).
// Prints each outcome, and how long it all took.
// Usage: helper_thread_peer.ts <ffi/mod.ts> wake|fail
import process from "node:process";

const [modulePath, mode] = process.argv.slice(2);
const ffi = await import(modulePath!);
const EFD_CLOEXEC_NONBLOCK = 0x80800;
const fd: number = ffi.libc().eventfd(0, EFD_CLOEXEC_NONBLOCK);
const word = new Int32Array(new SharedArrayBuffer(4));
const start = performance.now();
const outcome = async (wait: Promise<unknown>) => {
  try {
    await wait;
    return "resolved";
  } catch (error) {
    return `rejected: ${(error as Error).message}`;
  }
};
const waits = [
  outcome(ffi.waitForDescriptor(fd, "read", { timeout: 20_000 })),
  outcome(ffi.futexWait(word, 0, 0, { timeout: 20_000 })),
];
if (mode === "wake") {
  setTimeout(() => {
    ffi.libc().write(fd, new BigUint64Array([1n]), 8);
    Atomics.store(word, 0, 1);
    ffi.futexWake(word, 0);
  }, 50);
}
const results = await Promise.all(waits);
ffi.libc().close(fd);
console.log(JSON.stringify({ results, ms: performance.now() - start }));
