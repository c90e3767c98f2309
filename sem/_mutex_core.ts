// The lock words behind Mutex (and Condition's re-locking). Eight bytes:
//
//   word 0, the futex word: 0 when free, else the owner's thread id (bits
//     0-29; HANDOFF there reserves the lock for a woken waiter), WAITERS
//     (bit 30) once someone may sleep on it, and STARVING (bit 31) once a
//     waiter has waited STARVE_MS: the next unlock hands the lock to a
//     sleeper instead of letting a fast re-locker barge in.
//   word 1: the owner's PID namespace (low 32 bits of its inode), 0 while
//     the lock changes hands. A thread id means something only in its
//     namespace: an owner from another one is never declared dead.
//
// Taking the lock over from a dead owner replaces both words at once
// (a 64-bit compare-and-exchange), so no one ever judges a new owner by a
// stale namespace.
import {
  futexWait,
  futexWaitSync,
  futexWake,
  IpcError,
  isTimeoutError,
  type Park,
  type WaitLoop,
  type WaitLoopSync,
} from "../ffi/mod.ts";
import { pidNamespace, threadGone, threadId } from "./_shared.ts";

/** Set in the word when a thread may sleep on it: unlock must wake one. */
export const WAITERS = 0x40000000;
/** Set by a waiter that waited too long: unlock hands the lock over. */
export const STARVING = 0x80000000 | 0;
/** The owner's thread id (pid_max is at most 2^22). */
export const OWNER = 0x3fffffff;
/** The owner field of a lock handed to whichever sleeper wakes first. */
const HANDOFF = OWNER;
/** How long a sleeper waits before checking whether the owner still lives. */
export const SLICE_MS = 100;
/** How long a waiter waits before unlockers hand the lock to a sleeper. */
const STARVE_MS = 2;

/** How an acquisition went: `false` normally, `true` after a dead owner. */
export type OwnerDied = boolean;

/** One wait for the lock: what the attempt and the park share. */
interface Waiting {
  /** Whether it has parked at least once (may take a HANDOFF lock). */
  parked: boolean;
  /** When it began, for STARVING. */
  readonly since: number;
  /** The word value it sleeps on. */
  sleepOn: number;
  /** Whether a whole slice passed without a wake-up. */
  sliceEnded: boolean;
}

/** The state of a wait that has not parked yet. */
function waiting(): Waiting {
  return {
    parked: false,
    since: performance.now(),
    sleepOn: 0,
    sliceEnded: false,
  };
}

/** The lock protocol on two 32-bit words in shared memory. */
export class LockWord {
  /** [0] the futex word, [1] the owner's PID namespace. */
  readonly word: Int32Array;
  readonly #both: BigUint64Array;
  readonly label: string;
  readonly #spin: number;

  constructor(buffer: ArrayBufferLike, byteOffset: number, spin: number) {
    this.word = new Int32Array(buffer, byteOffset, 2);
    this.#both = new BigUint64Array(buffer, byteOffset, 1);
    this.label = "mutex";
    this.#spin = spin;
  }

  /** Whether the memory is gone (its buffer detached). */
  get gone(): boolean {
    return this.word.length === 0;
  }

  /** Writes an unlocked mutex. */
  reset(): void {
    Atomics.store(this.word, 1, 0);
    Atomics.store(this.word, 0, 0);
  }

  /** The owner's thread id, 0 when free (or being handed over). */
  owner(): number {
    const owner = Atomics.load(this.word, 0) & OWNER;
    return owner === HANDOFF ? 0 : owner;
  }

  /** Records this process's namespace next to its thread id. */
  #publish(): void {
    Atomics.store(this.word, 1, pidNamespace());
  }

  /** The uncontended path: free to mine, no syscall. */
  #fast(me: number): boolean {
    if (Atomics.compareExchange(this.word, 0, 0, me) !== 0) return false;
    this.#publish();
    return true;
  }

  /** Locks if free (no waiter, no dead owner): the uncontended path. */
  lockFast(): boolean {
    return this.#fast(threadId());
  }

  /**
   * One attempt of a waiting locker: `false`/`true` (acquired; `true` when
   * taken over from a dead owner) or `undefined`.
   */
  #attempt(me: number, w: Waiting): OwnerDied | undefined {
    if (w.sliceEnded) {
      w.sliceEnded = false;
      const died = this.#takeOver(w.sleepOn, me, true, true);
      if (died !== undefined) return died;
    }
    if (!w.parked) return this.#fast(me) ? false : undefined;
    // A sleeper that was woken (or whose slice ended) may take a free lock
    // or a hand-over.
    const v = Atomics.load(this.word, 0);
    // Others may sleep: take it with WAITERS so unlock wakes them.
    if (v === 0 || (v & OWNER) === HANDOFF) {
      if (Atomics.compareExchange(this.word, 0, v, me | WAITERS) === v) {
        this.#publish();
        return false;
      }
    }
    return undefined;
  }

  /**
   * Before sleeping: marks the word so that unlock wakes a sleeper (and,
   * once this wait starves, hands the lock over). Returns the value to
   * sleep on, or `undefined` when the lock may be free: try again at once.
   */
  #prepare(w: Waiting): number | undefined {
    // Only a locker that slept before may take a hand-over: a fresh one
    // sleeps behind those already asleep (futex wakes the oldest first).
    const eligible = w.parked;
    w.parked = true;
    const starving = eligible && performance.now() - w.since >= STARVE_MS;
    for (;;) {
      const v = Atomics.load(this.word, 0);
      if (v === 0 || (eligible && (v & OWNER) === HANDOFF)) return undefined;
      const want = v | WAITERS | (starving ? STARVING : 0);
      if (
        want === v || Atomics.compareExchange(this.word, 0, v, want) === v
      ) {
        return w.sleepOn = want;
      }
    }
  }

  /**
   * Takes the lock from a dead owner whose word still reads `v` (after a
   * slice without a wake-up), or from a hand-over nobody took. Refuses
   * (`ENOTRECOVERABLE`) an owner of another PID namespace that looks dead
   * here, when `refuse` is set: its thread id means nothing here.
   */
  #takeOver(
    v: number,
    me: number,
    refuse: boolean,
    handOff: boolean,
  ): OwnerDied | undefined {
    if (Atomics.load(this.word, 0) !== v || v === 0) return undefined;
    const owner = v & OWNER;
    if (owner === HANDOFF) {
      if (!handOff) return undefined;
      if (Atomics.compareExchange(this.word, 0, v, me | WAITERS) !== v) {
        return undefined;
      }
      this.#publish();
      return false;
    }
    const ns = Atomics.load(this.word, 1);
    if (ns === 0 || Atomics.load(this.word, 0) !== v) return undefined;
    const mine = pidNamespace();
    if (owner === me && ns === mine) return undefined;
    if (!threadGone(owner)) return undefined;
    if (ns !== mine) {
      if (!refuse) return undefined;
      throw new IpcError("ENOTRECOVERABLE", {
        syscall: "futex",
        action: `lock ${this.label}`,
        hint: `It is held by thread ${owner} of another PID namespace ` +
          `(${ns >>> 0}; this process is in ${mine >>> 0}), which this ` +
          `process cannot see: it may be alive, so the lock is not taken ` +
          `over. Processes sharing a Mutex must share a PID namespace`,
      });
    }
    // Keep WAITERS: the dead owner's sleepers still need a wake-up.
    const expected = BigInt(v >>> 0) | (BigInt(ns >>> 0) << 32n);
    const replacement = BigInt((me | WAITERS) >>> 0) |
      (BigInt(mine >>> 0) << 32n);
    return Atomics.compareExchange(this.#both, 0, expected, replacement) ===
        expected
      ? true
      : undefined;
  }

  /**
   * Locks if free, or if the owner is dead (not for an owner of another
   * namespace: `undefined`, as when a live thread holds it).
   */
  tryLock(): OwnerDied | undefined {
    const me = threadId();
    if (this.#fast(me)) return false;
    return this.#takeOver(Atomics.load(this.word, 0), me, false, false);
  }

  #deadlock(): IpcError {
    return new IpcError("EDEADLK", {
      syscall: "futex",
      action: `lock ${this.label}`,
      hint: "This thread holds it already; lockSync() would wait forever",
    });
  }

  /** The blocking wait: spins for `spin` µs, then sleeps in futex(2). */
  loopSync(check: () => void): WaitLoopSync<OwnerDied> {
    const me = threadId();
    const w = waiting();
    return {
      attempt: () => {
        const got = this.#attempt(me, w);
        if (got !== undefined || w.parked) return got;
        if ((Atomics.load(this.word, 0) & OWNER) === me) {
          throw this.#deadlock();
        }
        return undefined;
      },
      spin: this.#spin,
      park: (left) => {
        const sleepOn = this.#prepare(w);
        if (sleepOn === undefined) return;
        const r = futexWaitSync(
          this.word,
          0,
          sleepOn,
          Math.min(left, SLICE_MS),
        );
        if (r === "timed-out") w.sliceEnded = true;
      },
      check,
      what: this.label,
    };
  }

  /**
   * The async wait (for waitUntil): spins, then parks on the futex word in
   * ffi's helper, in slices of SLICE_MS to check whether the owner died.
   */
  loop(
    check: () => void,
    closing: AbortSignal,
    isClosed: () => boolean,
  ): WaitLoop<OwnerDied> {
    const me = threadId();
    const w = waiting();
    const park: Park = (_left, signal) => {
      const sleepOn = this.#prepare(w);
      if (sleepOn === undefined) return Promise.resolve();
      return futexWait(this.word, 0, sleepOn, { signal, timeout: SLICE_MS })
        .then(
          () => {},
          (error) => {
            if (!isTimeoutError(error) || signal.aborted) throw error;
            w.sliceEnded = true; // no wake-up for a slice: owner alive?
          },
        );
    };
    return {
      attempt: () => this.#attempt(me, w),
      park,
      check,
      what: this.label,
      spin: this.#spin,
      closing,
      // A wait that ends without the lock passes on a hand-over it may
      // have been woken for (not once closed: the memory is not ours).
      leave: () => {
        if (!isClosed() && !this.gone) this.passOn();
      },
    };
  }

  /** Passes a hand-over nobody took to another sleeper, or frees it. */
  passOn(): void {
    const v = Atomics.load(this.word, 0);
    if ((v & OWNER) !== HANDOFF) return;
    if (futexWake(this.word, 0, 1) === 0) {
      Atomics.compareExchange(this.word, 0, v, 0);
    }
  }

  /** Unlocks; throws EPERM unless this thread is the owner. */
  unlock(): void {
    const me = threadId();
    for (;;) {
      const v = Atomics.load(this.word, 0);
      if ((v & OWNER) !== me) {
        throw new IpcError("EPERM", {
          syscall: "futex",
          action: `unlock ${this.label}`,
          hint: v === 0 || (v & OWNER) === HANDOFF
            ? "It is not locked"
            : `It is held by thread ${v & OWNER}, not by this thread (${me})`,
        });
      }
      Atomics.store(this.word, 1, 0);
      if (v & STARVING) {
        // A waiter starves: hand the lock to a sleeper (the first woken
        // takes it) instead of letting a fast re-locker barge in.
        const handed = HANDOFF | WAITERS;
        if (Atomics.compareExchange(this.word, 0, v, handed) !== v) continue;
        if (futexWake(this.word, 0, 1) === 0) {
          Atomics.compareExchange(this.word, 0, handed, 0);
        }
        return;
      }
      if (Atomics.compareExchange(this.word, 0, v, 0) !== v) continue;
      if (v & WAITERS) futexWake(this.word, 0, 1);
      return;
    }
  }
}

/** What Condition needs from a guard: its lock and how to re-lock. */
export interface GuardLink {
  readonly lock: LockWord;
  /** Whether the guard still holds the lock. */
  held(): boolean;
  /** Throws EBADF when the mutex handle is closed or its memory gone. */
  check(): void;
  /** Re-locks after a condition wait (no timeout); records a dead owner. */
  relock(): Promise<void>;
  /** The same, blocking. */
  relockSync(): void;
  /** Records that the guard lost the lock (a re-lock failed). */
  lost(): void;
}

/**
 * Reads a guard's link (set by mutex.ts, whose MutexGuard keeps it in
 * private fields; no per-guard WeakMap entry, which costs memory per lock).
 */
export const GUARDS: { link(guard: object): GuardLink | undefined } = {
  link: () => undefined,
};
