import {
  addressOf,
  checkBoolean,
  checkMode,
  checkOptions,
  checkSignal,
  checkSpin,
  checkTimeout,
  errno,
  futexWait,
  futexWaitSync,
  futexWake,
  Handle,
  IpcError,
  type IpcErrorOptions,
  isTimeoutError,
  libc,
  type Park,
  parkWithBackoff,
  parkWithBackoffSync,
  type Pointer,
  pointerFrom,
  removeAtExit,
  retryAfterFailure,
  statPath,
  sys,
  validatePosixName,
  viewMemory,
  type WaitLoop,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import {
  checkRegion,
  checkValue,
  memoryGoneError,
  SEM_VALUE_MAX,
} from "./_shared.ts";

const O_CREAT = 0o100;
const O_EXCL = 0o200;
const EAGAIN = 11;
const EINTR = 4;
const SEM_T_SIZE = 32;
const NWAITER = 1n << 32n;
/**
 * How long an async wait on an unnamed semaphore parks before it looks
 * again whether the caller's memory is still there (a detached buffer
 * cannot wake a futex wait).
 */
const SLICE_MS = 250;
const NO_WORDS = new Int32Array(0);
const NO_DATA = new BigInt64Array(0);

/** Options for {@linkcode Semaphore.open}. */
export interface SemaphoreOptions {
  /**
   * Create the semaphore if it does not exist (`O_CREAT`).
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * With `create`, fail with `EEXIST` if it exists (`O_EXCL`).
   * @default {false}
   */
  exclusive?: boolean | undefined;
  /**
   * Permission bits for a new semaphore (before the umask).
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * Initial value of a new semaphore, 0 to `SEM_VALUE_MAX` (2147483647);
   * ignored when it exists already.
   * @default {0}
   */
  value?: number | undefined;
  /**
   * Microseconds `wait()` retries on the spot before parking on the futex
   * helper thread (a thread wake-up costs tens of µs), 0 to 1,000,000.
   * Spins only when the process may run on more than one CPU. 0 turns it
   * off.
   * @default {50}
   */
  spin?: number | undefined;
}

/** Options for a temporary semaphore: those of `open` less the creation flags. */
export type TemporarySemaphoreOptions = Omit<
  SemaphoreOptions,
  "create" | "exclusive"
>;

/** Options for {@linkcode Semaphore.init}. */
export interface SemaphoreInitOptions {
  /**
   * Initial value, 0 to `SEM_VALUE_MAX` (2147483647).
   * @default {0}
   */
  value?: number | undefined;
  /**
   * Microseconds `wait()` retries before parking (see
   * {@linkcode SemaphoreOptions.spin}).
   * @default {50}
   */
  spin?: number | undefined;
}

/** Options for {@linkcode Semaphore.at}. */
export interface SemaphoreAtOptions {
  /**
   * Microseconds `wait()` retries before parking (see
   * {@linkcode SemaphoreOptions.spin}).
   * @default {50}
   */
  spin?: number | undefined;
}

/**
 * Options for a blocking wait.
 * @deprecated Use {@linkcode WaitSyncOptions} (the same shape).
 */
export type SemaphoreWaitSyncOptions = WaitSyncOptions;

// glibc 2.36 on x86_64 and aarch64 keeps a sem_t as { uint64_t data; int
// private; int pad; }: the value in the low 32 bits of data (the futex word),
// the number of waiters in the high 32 bits; sem_post wakes the futex only
// when that count is not 0. Checked once per process on a scratch sem_t; if
// the check fails, waits poll with sem_trywait instead.
let layoutVerified: boolean | undefined;

function verifyLayout(): boolean {
  if (layoutVerified !== undefined) return layoutVerified;
  const words = new Int32Array(new SharedArrayBuffer(SEM_T_SIZE));
  const p = pointerFrom(addressOf(words));
  let ok = libc().sem_init(p, 1, 5) === 0 && words[0] === 5 && words[1] === 0;
  ok = ok && libc().sem_post(p) === 0 && words[0] === 6 && words[1] === 0;
  ok = ok && libc().sem_trywait(p) === 0 && words[0] === 5;
  libc().sem_destroy(p);
  return layoutVerified = ok;
}

/**
 * The size of glibc's file behind a named semaphore, or `undefined` when
 * it cannot be stat'ed (another shm directory, say).
 */
function semaphoreFileSize(name: string): number | undefined {
  try {
    return statPath(`/dev/shm/sem.${name.slice(1)}`).size;
  } catch {
    return undefined;
  }
}

/**
 * A permit taken from a semaphore by {@linkcode Semaphore.acquire}: it
 * posts the semaphore back when released or disposed.
 *
 * @example
 * ```ts
 * import { Semaphore } from "@ipckit/ipc/sem";
 *
 * using slots = Semaphore.temporary({ value: 1 });
 * {
 *   using _permit = await slots.acquire();
 *   console.log(slots.value); // 0
 * }
 * console.log(slots.value); // 1
 * ```
 */
export class SemaphorePermit implements Disposable {
  #semaphore: Semaphore | undefined;

  /** @internal Made by {@linkcode Semaphore.acquire}. */
  constructor(semaphore: Semaphore) {
    this.#semaphore = semaphore;
  }

  /** Whether the permit has been given back. */
  get released(): boolean {
    return this.#semaphore === undefined;
  }

  /**
   * Posts the semaphore; releasing twice does nothing.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary({ value: 1 });
   * const permit = s.acquireSync();
   * permit.release();
   * permit.release(); // no-op
   * console.log(s.value); // 1
   * ```
   *
   * @throws {IpcError} `EBADF` when the semaphore was closed meanwhile,
   *   `EOVERFLOW` at `SEM_VALUE_MAX`.
   */
  release(): void {
    const s = this.#semaphore;
    if (s === undefined) return;
    this.#semaphore = undefined;
    s.post();
  }

  /** Same as {@linkcode SemaphorePermit.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * A POSIX semaphore (sem_overview(7)): a counter shared between processes;
 * `post()` adds one, `wait()` waits until it is above zero and takes one.
 * Named semaphores ({@linkcode Semaphore.open}) live in `/dev/shm/sem.NAME`
 * and are reached by name from any process, including C programs using
 * sem_open(3). Unnamed ones ({@linkcode Semaphore.init}) live inside memory
 * that processes share (a `MAP_SHARED` mapping), at an offset.
 *
 * Closing is not removing: a named semaphore lives until
 * {@linkcode Semaphore.unlink} (or reboot). Waiting comes three ways:
 * `waitSync()` blocks the thread (fastest), `wait()` returns a promise and
 * never blocks the event loop (with `timeout` and `signal`), `tryWait()`
 * returns at once. Closing the handle rejects pending waits with `EBADF`.
 *
 * @example Limiting concurrent work to 2 slots
 * ```ts
 * import { Semaphore } from "@ipckit/ipc/sem";
 *
 * using slots = Semaphore.temporary({ value: 2 });
 * await slots.wait({ timeout: 1000 });
 * console.log(slots.tryWait()); // true
 * console.log(slots.tryWait()); // false: both taken
 * slots.post();
 * slots.post();
 * console.log(slots.value); // 2
 * ```
 */
export class Semaphore extends Handle {
  /** Bytes an unnamed semaphore takes in shared memory (`sizeof(sem_t)`). */
  static readonly byteLength: number = SEM_T_SIZE;
  /** The largest value a semaphore can hold (`SEM_VALUE_MAX`). */
  static readonly maxValue: number = SEM_VALUE_MAX;

  /** The semaphore's name such as `"/slots"`, or `undefined` for an unnamed one. */
  readonly name: string | undefined;
  readonly #pointer: Pointer;
  readonly #named: boolean;
  readonly #unlinkOnClose: boolean;
  readonly #spin: number;
  // The sem_t: [0] value (the futex word), [1] waiters. Over the caller's
  // buffer for an unnamed semaphore: detached (length 0) once that memory
  // is unmapped, resized or transferred, which every use checks first.
  #words: Int32Array;
  #data: BigInt64Array; // the sem_t's 64-bit data field
  #valueOut = new Int32Array(1);
  /** Waits counted in the sem_t's waiter count (close() takes them back). */
  #counted = new Set<object>();
  readonly #failure: IpcErrorOptions;
  readonly #label: string;
  /** Forgets the removal at exit of a temporary semaphore. */
  #forgetAtExit: (() => void) | undefined;

  private constructor(
    name: string | undefined,
    pointer: Pointer,
    memory: ArrayBufferLike,
    byteOffset: number,
    unlinkOnClose: boolean,
    spin: number,
  ) {
    super("semaphore", name);
    this.name = name;
    this.#pointer = pointer;
    this.#named = name !== undefined;
    this.#unlinkOnClose = unlinkOnClose;
    this.#spin = spin;
    this.#words = new Int32Array(memory, byteOffset, 8);
    this.#data = new BigInt64Array(memory, byteOffset, 1);
    this.#label = name === undefined
      ? "unnamed semaphore"
      : `semaphore "${name}"`;
    this.#failure = {
      syscall: "sem_wait",
      path: name,
      action: "wait on semaphore",
    };
    if (unlinkOnClose && name !== undefined) {
      const cname = validatePosixName(name, "semaphore", 251);
      this.#forgetAtExit = removeAtExit(() => libc().sem_unlink(cname));
    }
  }

  /**
   * Opens (and with `create`, creates) a named semaphore. See sem_open(3);
   * glibc keeps it as the file `/dev/shm/sem.NAME` (without the `/`). A
   * file of that name that is too short to hold a semaphore (not made by
   * sem_open) is refused with `EINVAL` instead of crashing the process on
   * first use.
   *
   * @example Creating a named semaphore
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.open("/ipckit_doc_slots", { create: true, value: 3 });
   * console.log(s.value); // 3
   * Semaphore.unlink("/ipckit_doc_slots");
   * ```
   *
   * @param name One leading `/`, no other `/`, 1 to 251 bytes after it
   *   (glibc adds `sem.` to make the file name).
   * @param options Creation flags, mode, initial value, spin.
   * @returns The open semaphore.
   * @throws {TypeError} For a malformed name or an option of the wrong type.
   * @throws {RangeError} For a name too long, a bad mode or spin, or a value
   *   below 0 or above `SEM_VALUE_MAX`.
   * @throws {IpcError} `ENOENT` (missing, no `create`), `EEXIST`
   *   (`exclusive`), `EACCES` (mode), `EINVAL` (the file is not a
   *   semaphore), `EMFILE`/`ENFILE`, `ENOSPC`.
   */
  static open(name: string, options?: SemaphoreOptions): Semaphore {
    return Semaphore.#open(name, checkOptions(options), false);
  }

  /**
   * Creates a named semaphore with a random unused name that is unlinked
   * when the handle closes, and
   * when the process ends without closing it too: at its normal end, on
   * `process.exit()`, an uncaught error, or SIGINT/SIGTERM/SIGHUP that the
   * program does not handle itself (see ffi's `removeAtExit()`). SIGKILL
   * leaves it behind: `ipckit ls` lists such objects, `ipckit rm` removes
   * them.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary({ value: 1 });
   * console.log(s.name!.startsWith("/ipckit_")); // true
   * ```
   *
   * @param options Mode, initial value, spin.
   * @returns The open semaphore.
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a bad mode, value or spin.
   * @throws {IpcError} As {@linkcode Semaphore.open}.
   */
  static temporary(options?: TemporarySemaphoreOptions): Semaphore {
    const name = `/ipckit_${crypto.randomUUID().replaceAll("-", "")}`;
    return Semaphore.#open(
      name,
      { ...checkOptions(options), create: true, exclusive: true },
      true,
    );
  }

  static #open(
    name: string,
    options: SemaphoreOptions,
    unlinkOnClose: boolean,
  ): Semaphore {
    const cname = validatePosixName(name, "semaphore", 251);
    const create = checkBoolean(options.create, "create", false);
    const exclusive = checkBoolean(options.exclusive, "exclusive", false);
    const mode = checkMode(options.mode === undefined ? 0o600 : options.mode);
    const value = checkValue(options.value === undefined ? 0 : options.value);
    const spin = checkSpin(options.spin, 50);
    let flags = 0;
    if (create) flags |= O_CREAT;
    if (create && exclusive) flags |= O_EXCL;
    let pointer: Pointer | null = null;
    // sem_open returns SEM_FAILED ((sem_t*)0) on failure; sys() wants -1.
    sys(() => {
      pointer = libc().sem_open(cname, flags, mode, value);
      return pointer === null ? -1 : 0;
    }, {
      syscall: "sem_open",
      path: name,
      action: "open semaphore",
    }, (code) => openHint(code, create));
    const p = pointer as unknown as Pointer;
    try {
      // glibc maps an existing file without looking at its size: a file
      // shorter than a sem_t would kill the process (SIGBUS) on first use.
      if (!(create && exclusive)) {
        const size = semaphoreFileSize(name);
        if (size !== undefined && size < SEM_T_SIZE) {
          throw new IpcError("EINVAL", {
            syscall: "sem_open",
            path: name,
            action: "open semaphore",
            hint:
              `Its file /dev/shm/sem.${
                name.slice(1)
              } is ${size} bytes, too short for a semaphore (${SEM_T_SIZE}): ` +
              `it was not made by sem_open. Unlink it and create the semaphore again`,
          });
        }
      }
      return new Semaphore(
        name,
        p,
        viewMemory(p, SEM_T_SIZE),
        0,
        unlinkOnClose,
        spin,
      );
    } catch (error) {
      libc().sem_close(p);
      throw error;
    }
  }

  /**
   * Removes a named semaphore's name; processes that have it open keep
   * using it until they close it. See sem_unlink(3).
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * Semaphore.open("/ipckit_doc_gone", { create: true }).close();
   * Semaphore.unlink("/ipckit_doc_gone");
   * ```
   *
   * @param name The semaphore's name.
   * @throws {TypeError} For a malformed name.
   * @throws {IpcError} `ENOENT` when no such semaphore exists, `EACCES`.
   */
  static unlink(name: string): void {
    const cname = validatePosixName(name, "semaphore", 251);
    sys(() => libc().sem_unlink(cname), {
      syscall: "sem_unlink",
      path: name,
      action: "unlink semaphore",
    });
  }

  /**
   * Makes an unnamed semaphore inside `buffer` at `byteOffset` (sem_init(3)
   * with `pshared = 1`): every process that maps the same memory
   * (`MAP_SHARED`, such as POSIX shared memory) can use it through
   * {@linkcode Semaphore.at}. It takes {@linkcode Semaphore.byteLength}
   * (32) bytes at an offset that is a multiple of 8. Initialise it once,
   * before any process uses it. Once the memory goes away (the mapping is
   * closed, resized or remapped, or the ArrayBuffer is transferred, which
   * detaches it), every use fails with `EBADF` instead of touching memory
   * the handle no longer owns.
   *
   * @example A semaphore in memory threads share
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(64);
   * using s = Semaphore.init(memory, 32, { value: 1 });
   * console.log(s.tryWait()); // true
   * s.destroy();
   * ```
   *
   * @param buffer The shared memory (for other processes: an ArrayBuffer
   *   over a `MAP_SHARED` mapping).
   * @param byteOffset Where the semaphore starts; a multiple of 8.
   * @param options The initial value and spin.
   * @returns A handle on the new semaphore.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer, or an argument has the wrong type.
   * @throws {RangeError} For a misaligned or out-of-range offset, or a bad
   *   value or spin.
   * @throws {IpcError} `EINVAL` from sem_init(3).
   */
  static init(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    options?: SemaphoreInitOptions,
  ): Semaphore {
    const o = checkOptions(options);
    const value = checkValue(o.value === undefined ? 0 : o.value);
    const spin = checkSpin(o.spin, 50);
    const p = Semaphore.#locate(buffer, byteOffset);
    sys(() => libc().sem_init(p, 1, value), {
      syscall: "sem_init",
      action: "initialise semaphore",
    });
    return new Semaphore(undefined, p, buffer, byteOffset, false, spin);
  }

  /**
   * A handle on an unnamed semaphore that some process made with
   * {@linkcode Semaphore.init} at `byteOffset` of memory this process maps
   * too. Nothing is checked but the offset: the memory must hold an
   * initialised semaphore. Once the memory goes away every use fails with
   * `EBADF`, as for {@linkcode Semaphore.init}.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * const memory = new SharedArrayBuffer(32);
   * using made = Semaphore.init(memory, 0, { value: 2 });
   * using seen = Semaphore.at(memory, 0);
   * console.log(seen.value); // 2
   * ```
   *
   * @param buffer The shared memory.
   * @param byteOffset Where the semaphore starts; a multiple of 8.
   * @param options The spin.
   * @returns A handle on the semaphore.
   * @throws {TypeError} When `buffer` is not an ArrayBuffer or
   *   SharedArrayBuffer, or an argument has the wrong type.
   * @throws {RangeError} For a misaligned or out-of-range offset, or a bad
   *   spin.
   */
  static at(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    options?: SemaphoreAtOptions,
  ): Semaphore {
    const spin = checkSpin(checkOptions(options).spin, 50);
    const p = Semaphore.#locate(buffer, byteOffset);
    return new Semaphore(undefined, p, buffer, byteOffset, false, spin);
  }

  static #locate(buffer: ArrayBufferLike, byteOffset: number): Pointer {
    checkRegion(buffer, byteOffset, SEM_T_SIZE, 8, "semaphore");
    const address = addressOf(new Uint8Array(buffer, byteOffset, SEM_T_SIZE));
    if (address % 8 !== 0) {
      throw new RangeError(
        `A semaphore needs an address that is a multiple of 8, got 0x${
          address.toString(16)
        }`,
      );
    }
    return pointerFrom(address)!;
  }

  /**
   * The sem_t, once the handle is known to be open and its memory still
   * there (checked before every use, and after every await).
   */
  #sem(syscall: string): Pointer {
    this.checkOpen(syscall);
    if (this.#words.length === 0) throw memoryGoneError(this.#label, syscall);
    // glibc aborts the process when a futex call on a sem_t fails in a way
    // it does not expect, as one on memory that holds no semaphore does:
    // refuse such memory (value above SEM_VALUE_MAX, a `private` field
    // that is neither 0 nor FUTEX_PRIVATE_FLAG) before glibc sees it.
    const value = Atomics.load(this.#words, 0);
    const shared = Atomics.load(this.#words, 2);
    if (
      verifyLayout() && (value < 0 || (shared !== 0 && shared !== 128))
    ) {
      throw new IpcError("EINVAL", {
        syscall,
        path: this.name,
        action: "use semaphore",
        hint:
          "The memory does not hold a semaphore; make one there with Semaphore.init()",
      });
    }
    return this.#pointer;
  }

  /**
   * The current value (sem_getvalue(3)); a snapshot that other processes
   * may change at once.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary({ value: 4 });
   * console.log(s.value); // 4
   * ```
   *
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   */
  get value(): number {
    const p = this.#sem("sem_getvalue");
    sys(() => libc().sem_getvalue(p, this.#valueOut), {
      syscall: "sem_getvalue",
      path: this.name,
      action: "read semaphore",
    });
    return this.#valueOut[0]!;
  }

  /**
   * Adds one to the value, waking one waiter if any (sem_post(3)).
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary();
   * s.post();
   * console.log(s.value); // 1
   * ```
   *
   * @throws {IpcError} `EOVERFLOW` at `SEM_VALUE_MAX`, `EBADF` when closed
   *   or its memory is gone.
   */
  post(): void {
    const p = this.#sem("sem_post");
    while (libc().sem_post(p) === -1) {
      retryAfterFailure({
        syscall: "sem_post",
        path: this.name,
        action: "post semaphore",
      });
    }
  }

  /**
   * Takes one if the value is above zero, without waiting
   * (sem_trywait(3)).
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary({ value: 1 });
   * console.log(s.tryWait()); // true
   * console.log(s.tryWait()); // false
   * ```
   *
   * @returns `true` when one was taken, `false` when the value was 0.
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   */
  tryWait(): boolean {
    return this.#tryOnce("sem_trywait");
  }

  #tryOnce(syscall: string): boolean {
    const p = this.#sem(syscall);
    for (;;) {
      if (libc().sem_trywait(p) === 0) return true;
      const e = errno();
      if (e === EAGAIN) return false;
      if (e !== EINTR) {
        throw new IpcError(e, { ...this.#failure, syscall: "sem_trywait" });
      }
    }
  }

  #attempt = (): true | undefined => this.#tryOnce("sem_wait") || undefined;

  /** Values taken by async waits that their callers have not seen yet. */
  #undelivered = 0;

  #check = (): void => {
    this.#sem("sem_wait");
  };

  /** Counts a wait as a waiter of the sem_t, as glibc's sem_wait does. */
  #enter(token: object): void {
    Atomics.add(this.#data, 0, NWAITER);
    this.#counted.add(token);
  }

  /**
   * Stops counting a wait as a waiter (unless close() took the count back,
   * or the memory is gone). A post that woke this wait for nothing (it
   * timed out, or was aborted) must not be lost to other waiters: pass the
   * wake-up on while the value is above 0.
   */
  #leave(token: object): void {
    if (!this.#counted.delete(token) || this.#words.length === 0) return;
    const left = Atomics.sub(this.#data, 0, NWAITER) - NWAITER;
    if (left >> 32n > 0n && Atomics.load(this.#words, 0) > 0) {
      futexWake(this.#words, 0, 1);
    }
  }

  /**
   * Parks on the value word while it is 0. For an unnamed semaphore, in
   * slices: memory that goes away cannot wake the wait, so it looks again.
   */
  #park: Park = (_left, signal) => {
    const slice = this.#named ? undefined : SLICE_MS;
    return futexWait(this.#words, 0, 0, { signal, timeout: slice }).catch(
      (error) => {
        if (slice !== undefined && isTimeoutError(error) && !signal.aborted) {
          return "timed-out";
        }
        throw error;
      },
    );
  };

  /**
   * Takes one, blocking the thread (and the event loop) while the value is
   * 0: it sleeps in futex(2) on the semaphore's value, counted as a waiter
   * the way glibc's sem_wait counts itself, with a `timeout` on the
   * monotonic clock (signals do not stretch it).
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary({ value: 1 });
   * s.waitSync();
   * try {
   *   s.waitSync({ timeout: 10 });
   * } catch (e) {
   *   console.log((e as Error).name); // "TimeoutError"
   * }
   * ```
   *
   * @param options `timeout` in milliseconds.
   * @throws {TypeError} For a timeout that is not a number.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   * @throws {DOMException} `TimeoutError` when the value stayed 0.
   */
  waitSync(options?: WaitSyncOptions): void {
    const timeout = checkTimeout(checkOptions(options).timeout);
    if (this.#tryOnce("sem_wait")) return;
    if (!verifyLayout()) {
      waitUntilSync({
        attempt: this.#attempt,
        park: parkWithBackoffSync(),
        check: this.#check,
        what: this.#label,
      }, { timeout });
      return;
    }
    const token = {};
    this.#enter(token);
    try {
      waitUntilSync({
        attempt: this.#attempt,
        park: (left) =>
          futexWaitSync(
            this.#words,
            0,
            0,
            left === Infinity ? undefined : left,
          ),
        check: this.#check,
        what: this.#label,
      }, { timeout });
    } finally {
      this.#leave(token);
    }
  }

  /**
   * Takes one, waiting without blocking the event loop while the value is
   * 0. It first retries sem_trywait for `spin` µs, then parks on the
   * semaphore's futex word in ipckit's futex helper thread, counted as a
   * waiter the way glibc's own sem_wait counts itself (so every sem_post,
   * from any process or language, wakes it). Where glibc's sem_t layout
   * could not be verified it polls with pauses of 0.1 to 5 ms instead.
   * After every wake-up it checks the handle again: a `close()` (or, for an
   * unnamed semaphore, memory that went away) rejects it with `EBADF`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary();
   * setTimeout(() => s.post(), 10);
   * await s.wait({ timeout: 1000 });
   * console.log(s.value); // 0
   * ```
   *
   * @param options `timeout` (ms, monotonic, any length) and `signal`.
   * @returns A promise that resolves once one was taken.
   * @throws {TypeError} For a timeout or signal of the wrong type.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EBADF` when closed (also while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async wait(options?: WaitOptions): Promise<void> {
    const slow = this.#waitFast(options);
    if (slow === undefined) return;
    await this.#waitSlow(slow);
    this.#delivered();
  }

  /**
   * Validates the options and tries once; returns `undefined` when one was
   * taken, else the options for {@linkcode Semaphore.#waitSlow} (no wait
   * loop is built on the uncontended path).
   */
  #waitFast(options: WaitOptions | undefined): WaitOptions | undefined {
    const o = checkOptions(options);
    const timeout = checkTimeout(o.timeout);
    const signal = checkSignal(o.signal);
    this.#check();
    signal?.throwIfAborted();
    if (this.#tryOnce("sem_wait")) return undefined;
    return { timeout, signal };
  }

  /**
   * The contended wait. A value it takes counts as undelivered until the
   * caller's continuation runs {@linkcode Semaphore.#delivered}: a close()
   * in between posts it back.
   */
  #waitSlow(options: WaitOptions): Promise<true> {
    const verified = verifyLayout();
    const token = {};
    return waitUntil<true>(
      {
        attempt: () => {
          if (!this.#tryOnce("sem_wait")) return undefined;
          this.#undelivered++;
          return true;
        },
        park: verified ? this.#park : parkWithBackoff(),
        check: this.#check,
        what: this.#label,
        spin: this.#spin,
        closing: this.closing,
        enter: verified ? () => this.#enter(token) : undefined,
        leave: verified ? () => this.#leave(token) : undefined,
      } satisfies WaitLoop<true>,
      options,
    );
  }

  /**
   * Hands a value taken by {@linkcode Semaphore.#waitSlow} to the caller,
   * or throws `EBADF` when the handle closed meanwhile (close() posted it
   * back).
   */
  #delivered(): void {
    if (this.closed) throw this.closedError("sem_wait");
    this.#undelivered--;
  }

  /**
   * Waits like {@linkcode Semaphore.wait} and returns a permit that posts
   * the semaphore back when disposed: `using permit = await s.acquire()`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using slots = Semaphore.temporary({ value: 1 });
   * {
   *   using _permit = await slots.acquire({ timeout: 1000 });
   *   console.log(slots.tryWait()); // false: the one slot is taken
   * }
   * console.log(slots.value); // 1
   * ```
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns The permit.
   * @throws {TypeError} For a timeout or signal of the wrong type.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EBADF` when closed.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async acquire(options?: WaitOptions): Promise<SemaphorePermit> {
    const slow = this.#waitFast(options);
    if (slow !== undefined) {
      await this.#waitSlow(slow);
      this.#delivered();
    }
    return new SemaphorePermit(this);
  }

  /**
   * Waits like {@linkcode Semaphore.waitSync} (blocking the event loop) and
   * returns a permit that posts the semaphore back when disposed.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * using s = Semaphore.temporary({ value: 1 });
   * {
   *   using _permit = s.acquireSync({ timeout: 100 });
   * }
   * console.log(s.value); // 1
   * ```
   *
   * @param options `timeout` in milliseconds.
   * @returns The permit.
   * @throws {TypeError} For a timeout of the wrong type.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {IpcError} `EBADF` when closed.
   * @throws {DOMException} `TimeoutError` when the value stayed 0.
   */
  acquireSync(options?: WaitSyncOptions): SemaphorePermit {
    this.waitSync(options);
    return new SemaphorePermit(this);
  }

  /**
   * Destroys an unnamed semaphore (sem_destroy(3)) and closes the handle.
   * Only the process that made it should destroy it, once no process waits
   * on it. For a named semaphore it is the same as `close()`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * const s = Semaphore.init(new SharedArrayBuffer(32), 0);
   * s.destroy();
   * console.log(s.closed); // true
   * ```
   *
   * @throws {IpcError} `EBADF` when closed or its memory is gone.
   */
  destroy(): void {
    const p = this.#sem("sem_destroy");
    if (!this.#named) {
      sys(() => libc().sem_destroy(p), {
        syscall: "sem_destroy",
        action: "destroy semaphore",
      });
    }
    this.close();
  }

  /**
   * Closes the handle: sem_close(3) for a named semaphore (which stays until
   * unlinked, except a {@linkcode Semaphore.temporary} one, unlinked now);
   * for an unnamed one, forgets the memory (use `destroy()` to destroy
   * it). Pending `wait()` calls reject with `EBADF`. Closing twice does
   * nothing.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@ipckit/ipc/sem";
   *
   * const s = Semaphore.temporary();
   * s.close();
   * s.close(); // no-op
   * ```
   */
  override close(): void {
    super.close();
  }

  /** Takes the pending waits' counts back, then lets go of the memory. */
  protected release(): void {
    // Each parked wait counts as a waiter in the sem_t: take the counts
    // back while the memory is still mapped (the waits themselves reject
    // with EBADF once they run again, without touching it).
    if (this.#words.length !== 0) {
      for (const _ of this.#counted) Atomics.sub(this.#data, 0, NWAITER);
      // Values taken by waits whose callers have not seen them yet: they
      // reject with EBADF, so give the values back.
      for (; this.#undelivered > 0; this.#undelivered--) {
        libc().sem_post(this.#pointer);
      }
    }
    this.#undelivered = 0;
    this.#counted.clear();
    this.#words = NO_WORDS;
    this.#data = NO_DATA;
    if (!this.#named) return;
    libc().sem_close(this.#pointer);
    if (this.#unlinkOnClose) {
      this.#forgetAtExit?.();
      libc().sem_unlink(validatePosixName(this.name!, "semaphore", 251));
    }
  }
}

function openHint(code: string, create: boolean): string | undefined {
  switch (code) {
    case "ENOENT":
      return create
        ? undefined
        : "No semaphore has this name; pass { create: true } to create it";
    case "EEXIST":
      return "A semaphore with this name exists and { exclusive: true } was given";
    case "EACCES":
      return "The semaphore's mode does not allow this user to open it";
    case "EINVAL":
      return `The value must be at most ${SEM_VALUE_MAX} (SEM_VALUE_MAX)`;
  }
  return undefined;
}
