// The futex helper thread under Bun (which has no asynchronous FFI): one
// futex_waitv(2) at a time over the slot table it shares with the main
// thread, whose control word the main thread bumps and wakes whenever it adds
// or cancels a wait. Finished waits go back by `post`; errno is read here, on
// the thread that made the call. The thread is never blocked beyond the next
// table change, so a cancelled wait leaves nothing behind. Started by
// _bun_worker.ts.
import { errno, libc } from "./_libc.ts";
import { futexSlots } from "./_futex_slots.ts";
import { FutexWaiter, SYS_FUTEX_WAITV } from "./_futex_waiter.ts";

/** Serves the slot table in `buffer`, for the life of the thread. */
export function runFutexWaiter(
  buffer: SharedArrayBuffer,
  post: (report: [number, number, string]) => void,
): never {
  const slots = futexSlots(buffer);
  const waiter = new FutexWaiter(
    slots,
    (slot, token, result) => post([slot, token, result]),
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
}
