// One futex_waitv(2) over a slot table (see _futex_slots.ts): building the
// waiter list, and reading what the call's return means. Shared by the Bun
// helper thread (_futex_worker.ts), which makes the call synchronously, and
// the Deno driver (futex.ts), which makes it as a nonblocking FFI call.
import { errno, libc } from "./_libc.ts";
import { arch } from "./platform.ts";
import { addressOf } from "./memory.ts";
import type { FutexReport } from "./_types.ts";
import {
  ACTIVE,
  CANCELLED,
  FREE,
  type FutexSlots,
  REPORTED,
  SLOTS,
} from "./_futex_slots.ts";

/** futex_waitv's number, the same on x86_64 and aarch64. */
export const SYS_FUTEX_WAITV = 449;
const FUTEX2_SIZE_U32 = 2;
const FUTEX_WAIT = 0;
const EINTR = 4;
const EAGAIN = 11;
const EFAULT = 14;
const ETIMEDOUT = 110;

/** Waits on every active slot of one table, plus its control word. */
export class FutexWaiter {
  readonly slots: FutexSlots;
  // struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; }
  readonly waitv: BigUint64Array = new BigUint64Array((SLOTS + 1) * 3);
  readonly waitvAddress: number;
  readonly #controlAddress: number;
  readonly #report: FutexReport;
  readonly #zero = new BigInt64Array(2); // a zero timeout, to probe a word
  readonly #listed: number[] = [];

  constructor(slots: FutexSlots, report: FutexReport) {
    this.slots = slots;
    this.#report = report;
    this.waitvAddress = addressOf(this.waitv);
    this.#controlAddress = addressOf(slots.control);
  }

  #entry(at: number, address: number, value: number): void {
    this.waitv[at * 3] = BigInt(value >>> 0);
    this.waitv[at * 3 + 1] = BigInt(address);
    this.waitv[at * 3 + 2] = BigInt(FUTEX2_SIZE_U32);
  }

  /** Frees cancelled slots and lists the active ones; returns the count to pass. */
  prepare(): number {
    const { state, address, expected, control } = this.slots;
    this.#entry(0, this.#controlAddress, Atomics.load(control, 0));
    this.#listed.length = 0;
    for (let slot = 0; slot < SLOTS; slot++) {
      Atomics.compareExchange(state, slot, CANCELLED, FREE);
      if (Atomics.load(state, slot) !== ACTIVE) continue;
      this.#listed.push(slot);
      this.#entry(this.#listed.length, address[slot]!, expected[slot]!);
    }
    return this.#listed.length + 1;
  }

  /** Whether any wait is listed. */
  get listed(): number {
    return this.#listed.length;
  }

  /**
   * Handles the call's result `r` and its errno (`undefined` when it is
   * unknown, as after a Deno nonblocking call: then every listed word is
   * probed). Returns the errno of a failure that probing cannot explain.
   */
  finish(r: number, e: number | undefined): number {
    const woken = r > 0 ? this.#listed[r - 1] : undefined;
    if (woken !== undefined) this.#send(woken, "ok");
    if (r !== -1) return 0;
    if (e === EINTR || e === ETIMEDOUT) return 0;
    if (e === undefined || e === EAGAIN || e === EFAULT) {
      this.#probe();
      return 0;
    }
    for (const slot of this.#listed) this.#send(slot, `error:${e}`);
    return e;
  }

  #send(slot: number, result: string): void {
    // Report even a wait cancelled meanwhile: if it took a wake-up, the main
    // thread passes that wake-up on to another waiter.
    const was = Atomics.exchange(this.slots.state, slot, REPORTED);
    if (was === ACTIVE || was === CANCELLED) {
      this.#report(slot, this.slots.token[slot]!, result);
    }
  }

  /** After EAGAIN or EFAULT: find which listed words no longer match. */
  #probe(): void {
    for (const slot of this.#listed) {
      const r = libc().syscall(
        arch().sysFutex,
        this.slots.address[slot]!,
        FUTEX_WAIT,
        this.slots.expected[slot]!,
        this.#zero,
        0,
        0,
      );
      if (r === 0) {
        this.#send(slot, "ok"); // a wake-up landed in the probe itself
        continue;
      }
      const e = errno();
      if (e === EAGAIN) this.#send(slot, "not-equal");
      else if (e !== ETIMEDOUT && e !== EINTR) this.#send(slot, `error:${e}`);
    }
  }
}
