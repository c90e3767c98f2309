// Run by Bun from a copy of ffi/ whose worker modules were left out (as a
// bundle might): waits must fail at once with a clear error, not hang.
// Usage: missing_worker_peer.ts <path of the copied ffi/mod.ts>
import process from "node:process";

const ffi = await import(process.argv[2]);
const fd = ffi.libc().eventfd(0, 0x80800);
const word = new Int32Array(new SharedArrayBuffer(4));
const start = performance.now();
const outcome = async (wait: Promise<unknown>) => {
  try {
    await wait;
    return "resolved";
  } catch (error) {
    return (error as Error).message;
  }
};
const results = [
  await outcome(ffi.waitForDescriptor(fd, "read", { timeout: 20_000 })),
  await outcome(ffi.futexWait(word, 0, 0, { timeout: 20_000 })),
];
ffi.libc().close(fd);
console.log(JSON.stringify({ results, ms: performance.now() - start }));
