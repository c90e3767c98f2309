// A futex helper thread: waits with one futex_waitv(2) on every word the
// main thread registered in the shared slot table, plus the table's control
// word, which the main thread bumps and wakes whenever it adds or cancels a
// wait. It reports finished waits by postMessage; errno is read here, on the
// thread that made the call. The thread is never blocked beyond the next
// table change, so a cancelled wait leaves nothing behind.
import { parentPort, workerData } from "node:worker_threads";
import { ARCH, errno, libc } from "./_libc.ts";
import { addressOf } from "./memory.ts";
import {
  ACTIVE,
  CANCELLED,
  FREE,
  futexSlots,
  REPORTED,
  SLOTS,
} from "./_futex_slots.ts";

const SYS_FUTEX_WAITV = 449; // the same on x86_64 and aarch64
const FUTEX2_SIZE_U32 = 2;
const FUTEX_WAIT = 0;
const EINTR = 4;
const EAGAIN = 11;
const ETIMEDOUT = 110;

const slots = futexSlots((workerData as { buffer: SharedArrayBuffer }).buffer);
const { syscall } = libc();
// struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; }
const waitv = new BigUint64Array((SLOTS + 1) * 3);
const waitvAddress = addressOf(waitv);
const controlAddress = addressOf(slots.control);
const zero = new BigInt64Array(2); // a zero timeout, for probing one word
const listed: number[] = [];

function entry(at: number, address: number, value: number): void {
  waitv[at * 3] = BigInt(value >>> 0);
  waitv[at * 3 + 1] = BigInt(address);
  waitv[at * 3 + 2] = BigInt(FUTEX2_SIZE_U32);
}

function report(slot: number, result: string): void {
  // Report even a wait cancelled meanwhile: if it took a wake-up, the main
  // thread passes that wake-up on to another waiter.
  const was = Atomics.exchange(slots.state, slot, REPORTED);
  if (was === ACTIVE || was === CANCELLED) {
    parentPort!.postMessage([slot, slots.token[slot], result]);
  }
}

/** After EAGAIN or EFAULT: find which listed words no longer match. */
function probe(): void {
  for (const slot of listed) {
    const r = syscall(
      ARCH.sysFutex,
      slots.address[slot],
      FUTEX_WAIT,
      slots.expected[slot],
      zero,
      0,
      0,
    );
    if (r === 0) {
      report(slot, "ok"); // a wake-up landed in the probe itself
      continue;
    }
    const e = errno();
    if (e === EAGAIN) report(slot, "not-equal");
    else if (e !== ETIMEDOUT && e !== EINTR) report(slot, `error:${e}`);
  }
}

for (;;) {
  const generation = Atomics.load(slots.control, 0);
  entry(0, controlAddress, generation);
  listed.length = 0;
  for (let slot = 0; slot < SLOTS; slot++) {
    Atomics.compareExchange(slots.state, slot, CANCELLED, FREE);
    if (Atomics.load(slots.state, slot) !== ACTIVE) continue;
    listed.push(slot);
    entry(listed.length, slots.address[slot], slots.expected[slot]);
  }
  const r = syscall(
    SYS_FUTEX_WAITV,
    waitvAddress,
    listed.length + 1,
    0,
    null,
    0,
    0,
  );
  if (r > 0) report(listed[r - 1], "ok");
  else if (r === -1) {
    const e = errno();
    if (e === EINTR || e === ETIMEDOUT) continue;
    if (e === EAGAIN || e === 14 /* EFAULT */) probe();
    else for (const slot of listed) report(slot, `error:${e}`);
    if (e !== EAGAIN && e !== 14 && listed.length === 0) {
      // Nothing to report it to: wait for the table to change.
      Atomics.wait(slots.control, 0, generation);
    }
  }
}
