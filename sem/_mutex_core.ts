// The lock word behind Mutex (and Condition's re-locking): 0 when free,
// else the owner's thread id, with WAITERS set once someone sleeps on it.
import { futexWait, futexWaitSync, futexWake, IpcError } from "../ffi/mod.ts";
import { CPUS, threadGone, threadId, timeoutError } from "./_shared.ts";

/** Set in the word when a thread may sleep on it: unlock must wake one. */
export const WAITERS = 0x40000000;
/** The owner's thread id (pid_max is at most 2^22). */
export const OWNER = 0x3fffffff;
/** How long a sleeper waits before checking whether the owner still lives. */
export const SLICE_MS = 100;
const SPINS = 100;

/** How an acquisition went: `false` normally, `true` after a dead owner. */
export type OwnerDied = boolean;

/** The lock protocol on one 32-bit word in shared memory. */
export class LockWord {
  readonly word: Int32Array;
  readonly label: string;

  constructor(word: Int32Array, label: string) {
    this.word = word;
    this.label = label;
  }

  /** The owner's thread id, 0 when free. */
  owner(): number {
    return Atomics.load(this.word, 0) & OWNER;
  }

  /**
   * One attempt: `false`/`true` (acquired; `true` when taken over from a
   * dead owner) or `undefined` (held by a live thread).
   */
  tryAcquire(checkOwner: boolean): OwnerDied | undefined {
    const me = threadId();
    const v = Atomics.compareExchange(this.word, 0, 0, me);
    if (v === 0) return false;
    if (checkOwner) return this.#takeOver(v, me);
    return undefined;
  }

  /** Takes the lock from a dead owner whose word reads `v`. */
  #takeOver(v: number, me: number): OwnerDied | undefined {
    const owner = v & OWNER;
    if (owner === me || !threadGone(owner)) return undefined;
    // Keep WAITERS: the dead owner's sleepers still need a wake-up.
    return Atomics.compareExchange(this.word, 0, v, me | (v & WAITERS)) === v
      ? true
      : undefined;
  }

  /** One step of the slow path: the value to sleep on, or an acquisition. */
  #prepare(me: number): { got: OwnerDied } | { sleepOn: number } {
    for (;;) {
      const v = Atomics.load(this.word, 0);
      if (v === 0) {
        // Others may sleep: take it with WAITERS so unlock wakes them.
        if (Atomics.compareExchange(this.word, 0, 0, me | WAITERS) === 0) {
          return { got: false };
        }
        continue;
      }
      if (v & WAITERS) return { sleepOn: v };
      if (Atomics.compareExchange(this.word, 0, v, v | WAITERS) === v) {
        return { sleepOn: v | WAITERS };
      }
    }
  }

  #spin(me: number): boolean {
    if (CPUS < 2) return false;
    for (let i = 0; i < SPINS; i++) {
      if (
        Atomics.load(this.word, 0) === 0 &&
        Atomics.compareExchange(this.word, 0, 0, me) === 0
      ) return true;
    }
    return false;
  }

  /** Locks, blocking the thread; throws TimeoutError after `timeout` ms. */
  lockSync(timeout: number | undefined): OwnerDied {
    const me = threadId();
    const v = Atomics.compareExchange(this.word, 0, 0, me);
    if (v === 0) return false;
    if ((v & OWNER) === me) {
      throw new IpcError("EDEADLK", {
        syscall: "futex",
        action: `lock ${this.label}`,
        hint: "This thread holds it already; lockSync() would wait forever",
      });
    }
    if (this.#spin(me)) return false;
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    for (;;) {
      const step = this.#prepare(me);
      if ("got" in step) return step.got;
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout!, this.label);
      const r = futexWaitSync(
        this.word,
        0,
        step.sleepOn,
        Math.min(left, SLICE_MS),
      );
      if (r === "timed-out") {
        const died = this.#takeOver(step.sleepOn, me);
        if (died !== undefined) return died;
      }
    }
  }

  /** Locks without blocking the event loop. */
  async lock(
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<OwnerDied> {
    signal?.throwIfAborted();
    const me = threadId();
    if (Atomics.compareExchange(this.word, 0, 0, me) === 0) return false;
    if (this.#spin(me)) return false;
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    for (;;) {
      const step = this.#prepare(me);
      if ("got" in step) return step.got;
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout!, this.label);
      try {
        await futexWait(this.word, 0, step.sleepOn, {
          signal,
          timeout: Math.min(left, SLICE_MS),
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if ((error as Error)?.name !== "TimeoutError") throw error;
        // A slice passed without a wake-up: is the owner still alive?
        const died = this.#takeOver(step.sleepOn, me);
        if (died !== undefined) return died;
      }
    }
  }

  /** Unlocks; throws EPERM unless this thread is the owner. */
  unlock(): void {
    const me = threadId();
    const v = Atomics.load(this.word, 0);
    if ((v & OWNER) !== me) {
      throw new IpcError("EPERM", {
        syscall: "futex",
        action: `unlock ${this.label}`,
        hint: v === 0
          ? "It is not locked"
          : `It is held by thread ${v & OWNER}, not by this thread (${me})`,
      });
    }
    if (Atomics.exchange(this.word, 0, 0) & WAITERS) {
      futexWake(this.word, 0, 1);
    }
  }
}

/** What Condition needs from a guard: its lock word and how to flag it. */
export interface GuardLink {
  readonly lock: LockWord;
  /** Whether the guard still holds the lock. */
  held(): boolean;
  /** Records that a re-lock took over from a dead owner. */
  ownerDied(): void;
}

/** Guard -> link, filled in by mutex.ts, read by condition.ts. */
export const GUARDS: WeakMap<object, GuardLink> = new WeakMap();
