// The futex helper thread under Bun (which has no asynchronous FFI): one
// futex_waitv(2) at a time over the slot table it shares with the main
// thread, whose control word the main thread bumps and wakes whenever it adds
// or cancels a wait. Finished waits go back by postMessage; errno is read
// here, on the thread that made the call. The thread is never blocked beyond
// the next table change, so a cancelled wait leaves nothing behind.
import { parentPort, workerData } from "node:worker_threads";
import { errno, libc } from "./_libc.ts";
import { futexSlots } from "./_futex_slots.ts";
import { FutexWaiter, SYS_FUTEX_WAITV } from "./_futex_waiter.ts";

const slots = futexSlots((workerData as { buffer: SharedArrayBuffer }).buffer);
const waiter = new FutexWaiter(
  slots,
  (slot, token, result) => parentPort!.postMessage([slot, token, result]),
);
const { syscall } = libc();

for (;;) {
  const generation = Atomics.load(slots.control, 0);
  const n = waiter.prepare();
  const r = syscall(SYS_FUTEX_WAITV, waiter.waitvAddress, n, 0, null, 0, 0);
  const failed = waiter.finish(r, r === -1 ? errno() : 0);
  // A failure nothing can fix (ENOSYS): wait for the table to change.
  if (failed !== 0) Atomics.wait(slots.control, 0, generation);
}
