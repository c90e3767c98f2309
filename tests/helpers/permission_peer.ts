// Run by Deno with few permissions: importing ipckit must need none, using
// it without --allow-ffi must fail with Deno's own error, unchanged, and
// with --allow-ffi alone every part must work: a queue (its limits read from
// /proc), an async wait (no worker module to load), a semaphore and a
// mutex (its owner's state read from /proc).
import { Mutex, Semaphore } from "../../mod.ts";
import { readKernelNumber } from "../../ffi/mod.ts";
import { MessageQueue } from "../../mod.ts";

console.log("imported");
try {
  using q = MessageQueue.temporary();
  setTimeout(() => q.sendSync("x"), 5);
  await q.receive({ timeout: 2000 });
  using s = Semaphore.temporary();
  setTimeout(() => s.post(), 5);
  await s.wait({ timeout: 2000 });
  const memory = new SharedArrayBuffer(64);
  using m = Mutex.init(memory, 0);
  (await m.lock({ timeout: 2000 })).unlock();
  const limit = readKernelNumber("/proc/sys/fs/mqueue/msg_max");
  console.log(`opened${limit !== undefined && limit > 0 ? " /proc" : ""}`);
} catch (error) {
  const e = error as Error;
  console.log(`${e.name} ${e instanceof Deno.errors.NotCapable}`);
}
