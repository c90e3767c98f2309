import {
  addressOf,
  arch,
  checkSysvKey,
  closedError,
  errno,
  IPC_PRIVATE,
  IpcError,
  libc,
  pause,
  pauseSync,
  sys,
  sysvKeyFromPath,
  sysvLabel,
  type WaitOptions,
} from "../ffi/mod.ts";
import {
  checkMode,
  checkTimeout,
  relativeTimespec,
  timeoutError,
} from "./_shared.ts";

const IPC_CREAT = 0o1000;
const IPC_EXCL = 0o2000;
const IPC_NOWAIT = 0o4000;
const SEM_UNDO = 0x1000;
const IPC_RMID = 0;
const IPC_STAT = 2;
const GETVAL = 12;
const GETALL = 13;
const SETVAL = 16;
const SETALL = 17;
const EAGAIN = 11;
const EINTR = 4;
const SEMVMX = 32767;
const WHAT = "System V semaphore set";
// struct semid_ds: sem_nsems is the 11th 64-bit field on x86_64 (with the
// __sem_otime_high/__sem_ctime_high pads), the 9th on aarch64.
const NSEMS_INDEX = () => arch().name === "aarch64" ? 8 : 10;

/** Options for {@linkcode SysvSemaphoreSet.open}. */
export interface SysvSemaphoreSetOptions {
  /**
   * Create the set if no set has the key (`IPC_CREAT`).
   * @default {false}
   */
  create?: boolean;
  /**
   * With `create`, fail with `EEXIST` if the key is taken (`IPC_EXCL`).
   * @default {false}
   */
  exclusive?: boolean;
  /**
   * Permission bits of a new set.
   * @default {0o600}
   */
  mode?: number;
  /**
   * How many semaphores a new set holds, 1 to semmsl (`/proc/sys/kernel/sem`,
   * first field). Opening an existing set accepts any count up to its own.
   * @default {1}
   */
  count?: number;
}

/** Options for a set without a key. */
export interface SysvPrivateSemaphoreSetOptions {
  /**
   * Permission bits.
   * @default {0o600}
   */
  mode?: number;
  /**
   * How many semaphores the set holds.
   * @default {1}
   */
  count?: number;
}

/** One operation of {@linkcode SysvSemaphoreSet.operateSync}. */
export interface SysvSemaphoreOperation {
  /** Which semaphore of the set, from 0. */
  index: number;
  /**
   * What to do: a positive number adds it; a negative one waits until the
   * value is at least its size and subtracts it; 0 waits until the value is
   * 0. From -32768 to 32767.
   */
  delta: number;
  /**
   * `SEM_UNDO`: the kernel reverts this change when the process exits, so
   * a process that dies holding a semaphore gives it back.
   * @default {false}
   */
  undo?: boolean;
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 65535) {
    throw new RangeError(
      `count must be an integer from 1 to semmsl, got ${count}`,
    );
  }
}

function semgetHint(code: string, create: boolean): string | undefined {
  switch (code) {
    case "ENOENT":
      return create
        ? undefined
        : "No set has this key; pass { create: true } to create it";
    case "EEXIST":
      return "A set with this key exists and { exclusive: true } was given";
    case "EINVAL":
      return "count is above semmsl (/proc/sys/kernel/sem) or above the existing set's count";
    case "ENOSPC":
      return "semmni or semmns (/proc/sys/kernel/sem) is reached";
    case "EACCES":
      return "The set's mode does not allow this user access";
  }
  return undefined;
}

/**
 * A System V semaphore set (sysvipc(7), semget(2)): an array of counters
 * changed by semop(2), several at once and atomically, with optional
 * `SEM_UNDO` so a process that dies gives back what it took. Older than
 * POSIX semaphores and heavier (every operation is a syscall), but the one
 * kind that can wait on several counters in one atomic step.
 *
 * A set lives until {@linkcode SysvSemaphoreSet.remove} (see `ipcs -s`);
 * closing the handle does not remove it, except for a
 * {@linkcode SysvSemaphoreSet.temporary} set.
 *
 * @example Two counters changed together
 * ```ts
 * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
 *
 * using set = SysvSemaphoreSet.temporary({ count: 2 });
 * set.setAll([1, 0]);
 * set.operateSync([{ index: 0, delta: -1 }, { index: 1, delta: 1 }]);
 * console.log(set.getAll()); // [0, 1]
 * ```
 */
export class SysvSemaphoreSet implements Disposable {
  /** The key the set was opened with (0 for a private set), unsigned. */
  readonly key: number;
  /** How many semaphores the set holds. */
  readonly count: number;
  #id: number;
  #closed = false;
  #removeOnClose: boolean;
  #label: string;
  #sops = new Uint16Array(3 * 8);

  private constructor(id: number, key: number, removeOnClose: boolean) {
    this.#id = id;
    this.key = key >>> 0;
    this.#removeOnClose = removeOnClose;
    this.#label = sysvLabel(key, id);
    const stat = new BigInt64Array(16);
    this.#ctl(0, IPC_STAT, addressOf(stat), "read");
    this.count = Number(stat[NSEMS_INDEX()]);
  }

  /**
   * Opens (and with `create`, creates) the set with a key (semget(2)). A
   * new set's values are 0; set them with {@linkcode SysvSemaphoreSet.set}
   * or {@linkcode SysvSemaphoreSet.setAll}.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.open(0x5e3a11, { create: true, count: 3 });
   * console.log(set.count); // 3
   * set.remove();
   * ```
   *
   * @param key A 32-bit integer, not 0 (`IPC_PRIVATE`: use
   *   {@linkcode SysvSemaphoreSet.private}).
   * @param options Creation flags, mode, count.
   * @returns A handle on the set.
   * @throws {RangeError} For a bad key, mode or count.
   * @throws {IpcError} `ENOENT`, `EEXIST`, `EACCES`, `EINVAL` (count over
   *   semmsl or the set's own), `ENOSPC` (semmni/semmns reached).
   */
  static open(
    key: number,
    options: SysvSemaphoreSetOptions = {},
  ): SysvSemaphoreSet {
    const k = checkSysvKey(key, "SysvSemaphoreSet.private()");
    const { create = false, exclusive = false, mode = 0o600, count } = options;
    checkMode(mode, 0o777);
    if (count !== undefined) checkCount(count);
    const flags = create ? IPC_CREAT | (exclusive ? IPC_EXCL : 0) | mode : 0;
    const id = sys(
      () => libc().semget(k, count ?? (create ? 1 : 0), flags),
      { syscall: "semget", path: sysvLabel(k), action: `open ${WHAT}` },
      (code) => semgetHint(code, create),
    );
    return new SysvSemaphoreSet(id, k, false);
  }

  /**
   * A key from an existing file and a project number, as ftok(3) makes it,
   * so processes that agree on a path find the same set. Needs
   * `--allow-read` in Deno.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * console.log(SysvSemaphoreSet.keyFromPath("/tmp", 1) > 0); // true
   * ```
   *
   * @param path An existing file or directory.
   * @param projectId 1 to 255.
   * @returns The key, as an unsigned 32-bit number.
   * @throws {RangeError} For a project number outside 1..255.
   * @throws {Error} When the file cannot be stat'ed (`ENOENT`, ...).
   */
  static keyFromPath(path: string, projectId: number): number {
    return sysvKeyFromPath(path, projectId);
  }

  /**
   * Creates a set without a key (`IPC_PRIVATE`); other processes reach it
   * by its {@linkcode SysvSemaphoreSet.id} with
   * {@linkcode SysvSemaphoreSet.fromId}. It lives until removed.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.private({ count: 1 });
   * console.log(set.key); // 0
   * set.remove();
   * ```
   *
   * @param options Mode and count.
   * @returns A handle on the new set.
   * @throws {RangeError} For a bad mode or count.
   * @throws {IpcError} `EINVAL` (count over semmsl), `ENOSPC`.
   */
  static private(
    options: SysvPrivateSemaphoreSetOptions = {},
  ): SysvSemaphoreSet {
    return SysvSemaphoreSet.#private(options, false);
  }

  /**
   * Creates a private set that is removed when the handle closes.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary({ count: 4 });
   * console.log(set.getAll()); // [0, 0, 0, 0]
   * ```
   *
   * @param options Mode and count.
   * @returns A handle on the new set.
   * @throws {RangeError} For a bad mode or count.
   * @throws {IpcError} `EINVAL` (count over semmsl), `ENOSPC`.
   */
  static temporary(
    options: SysvPrivateSemaphoreSetOptions = {},
  ): SysvSemaphoreSet {
    return SysvSemaphoreSet.#private(options, true);
  }

  static #private(
    options: SysvPrivateSemaphoreSetOptions,
    removeOnClose: boolean,
  ): SysvSemaphoreSet {
    const { mode = 0o600, count = 1 } = options;
    checkMode(mode, 0o777);
    checkCount(count);
    const id = sys(
      () => libc().semget(IPC_PRIVATE, count, IPC_CREAT | mode),
      { syscall: "semget", action: `create ${WHAT}` },
      (code) => semgetHint(code, true),
    );
    try {
      return new SysvSemaphoreSet(id, IPC_PRIVATE, removeOnClose);
    } catch (error) {
      libc().semctl(id, 0, IPC_RMID, 0);
      throw error;
    }
  }

  /**
   * A handle on the set with this id (from another process or `ipcs -s`),
   * checked with `IPC_STAT` (needs read permission).
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary();
   * using same = SysvSemaphoreSet.fromId(set.id);
   * same.set(0, 5);
   * console.log(set.get(0)); // 5
   * ```
   *
   * @param id The set's id.
   * @returns A handle on the set.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {IpcError} `EINVAL` (no such set), `EIDRM`, `EACCES`.
   */
  static fromId(id: number): SysvSemaphoreSet {
    if (!Number.isInteger(id) || id < 0 || id > 2 ** 31 - 1) {
      throw new RangeError(
        `A System V semaphore set id must be a non-negative 32-bit integer, got ${id}`,
      );
    }
    return new SysvSemaphoreSet(id, IPC_PRIVATE, false);
  }

  /** The set's id, as `ipcs -s` shows it. */
  get id(): number {
    return this.#check("semctl");
  }

  /** Whether {@linkcode SysvSemaphoreSet.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  #check(syscall: string): number {
    if (this.#closed) throw closedError(WHAT, this.#label, syscall);
    return this.#id;
  }

  #ctl(index: number, cmd: number, arg: number, action: string): number {
    return sys(() => libc().semctl(this.#id, index, cmd, arg), {
      syscall: "semctl",
      path: this.#label,
      action: `${action} ${WHAT}`,
    });
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(
        `index must be an integer from 0 to ${this.count - 1}, got ${index}`,
      );
    }
  }

  /**
   * One semaphore's value (`GETVAL`).
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary();
   * console.log(set.get(0)); // 0
   * ```
   *
   * @param index Which semaphore, from 0.
   * @returns Its value.
   * @throws {RangeError} For an index outside the set.
   * @throws {IpcError} `EIDRM`/`EINVAL` (removed), `EACCES`, `EBADF`.
   */
  get(index: number): number {
    this.#check("semctl");
    this.#checkIndex(index);
    return this.#ctl(index, GETVAL, 0, "read");
  }

  /**
   * Sets one semaphore's value (`SETVAL`), waking waiters it satisfies and
   * clearing every process's undo adjustment for it.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary();
   * set.set(0, 3);
   * console.log(set.get(0)); // 3
   * ```
   *
   * @param index Which semaphore, from 0.
   * @param value 0 to 32767 (`SEMVMX`).
   * @throws {RangeError} For an index outside the set or a bad value.
   * @throws {IpcError} `EIDRM`/`EINVAL` (removed), `EACCES`, `EBADF`.
   */
  set(index: number, value: number): void {
    this.#check("semctl");
    this.#checkIndex(index);
    checkSysvValue(value);
    this.#ctl(index, SETVAL, value, "set");
  }

  /**
   * Every value of the set (`GETALL`).
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary({ count: 2 });
   * console.log(set.getAll()); // [0, 0]
   * ```
   *
   * @returns The values, in index order.
   * @throws {IpcError} `EIDRM`/`EINVAL` (removed), `EACCES`, `EBADF`.
   */
  getAll(): number[] {
    this.#check("semctl");
    const values = new Uint16Array(this.count);
    this.#ctl(0, GETALL, addressOf(values), "read");
    return Array.from(values);
  }

  /**
   * Sets every value at once (`SETALL`).
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary({ count: 3 });
   * set.setAll([1, 2, 3]);
   * console.log(set.getAll()); // [1, 2, 3]
   * ```
   *
   * @param values One value (0 to 32767) per semaphore.
   * @throws {RangeError} For the wrong number of values or a bad value.
   * @throws {IpcError} `EIDRM`/`EINVAL` (removed), `EACCES`, `EBADF`.
   */
  setAll(values: readonly number[]): void {
    this.#check("semctl");
    if (!Array.isArray(values) || values.length !== this.count) {
      throw new RangeError(
        `setAll needs ${this.count} values, got ${values?.length}`,
      );
    }
    values.forEach((v) => checkSysvValue(v));
    const array = Uint16Array.from(values);
    this.#ctl(0, SETALL, addressOf(array), "set");
  }

  #encode(ops: readonly SysvSemaphoreOperation[], extra: number): Uint16Array {
    if (!Array.isArray(ops) || ops.length === 0) {
      throw new RangeError("operations must be a non-empty array");
    }
    if (this.#sops.length < ops.length * 3) {
      this.#sops = new Uint16Array(ops.length * 3);
    }
    const sops = this.#sops;
    ops.forEach((op, i) => {
      this.#checkIndex(op.index);
      if (
        !Number.isInteger(op.delta) || op.delta < -32768 || op.delta > 32767
      ) {
        throw new RangeError(
          `delta must be an integer from -32768 to 32767, got ${op.delta}`,
        );
      }
      sops[i * 3] = op.index;
      sops[i * 3 + 1] = op.delta & 0xffff;
      sops[i * 3 + 2] = extra | (op.undo ? SEM_UNDO : 0);
    });
    return sops;
  }

  /** One semop/semtimedop call: true when done, false on EAGAIN. */
  #once(
    sops: Uint16Array,
    n: number,
    timeout: BigInt64Array | null,
  ): boolean {
    for (;;) {
      const r = timeout === null
        ? libc().semop(this.#id, sops, n)
        : libc().semtimedop(this.#id, sops, n, timeout);
      if (r === 0) return true;
      const e = errno();
      if (e === EAGAIN) return false;
      if (e === EINTR && timeout === null) continue;
      if (e === EINTR) return false; // the caller recomputes the timeout
      throw new IpcError(e, {
        syscall: timeout === null ? "semop" : "semtimedop",
        path: this.#label,
        action: `operate on ${WHAT}`,
        hint: e === 7 // E2BIG
          ? "More operations than semopm (/proc/sys/kernel/sem) allows"
          : e === 34 // ERANGE
          ? "A value would go above 32767 (SEMVMX)"
          : undefined,
      });
    }
  }

  /**
   * Applies the operations atomically (all or none), blocking the thread
   * (and the event loop) until they can be: semop(2), or semtimedop(2)
   * with a `timeout`.
   *
   * @example A lock given back if the process dies
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary();
   * set.set(0, 1);
   * set.operateSync([{ index: 0, delta: -1, undo: true }], { timeout: 100 });
   * set.operateSync([{ index: 0, delta: 1, undo: true }]);
   * ```
   *
   * @param operations What to do, applied together.
   * @param options `timeout` in milliseconds.
   * @throws {RangeError} For a bad index or delta, or no operations.
   * @throws {IpcError} `EIDRM` (removed, also while waiting), `E2BIG`
   *   (over semopm), `ERANGE` (over SEMVMX), `EACCES`, `EBADF`.
   * @throws {DOMException} `TimeoutError` when they could not be applied
   *   in time.
   */
  operateSync(
    operations: readonly SysvSemaphoreOperation[],
    options: { timeout?: number } = {},
  ): void {
    this.#check("semop");
    const { timeout } = options;
    checkTimeout(timeout);
    const sops = this.#encode(operations, 0);
    if (timeout === undefined || timeout === Infinity) {
      this.#once(sops, operations.length, null);
      return;
    }
    const deadline = performance.now() + timeout;
    for (;;) {
      const left = deadline - performance.now();
      if (this.#once(sops, operations.length, relativeTimespec(left))) return;
      if (deadline - performance.now() <= 0) {
        throw timeoutError(timeout, `${WHAT} "${this.#label}"`);
      }
      if (left <= 0) pauseSync(0.1);
    }
  }

  /**
   * Applies the operations atomically, waiting without blocking the event
   * loop: semop(2) with `IPC_NOWAIT`, retried with pauses of 0.1 to 5 ms
   * (the kernel has no way to wait on a set asynchronously).
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary();
   * setTimeout(() => set.set(0, 1), 10);
   * await set.operate([{ index: 0, delta: -1 }], { timeout: 1000 });
   * console.log(set.get(0)); // 0
   * ```
   *
   * @param operations What to do, applied together.
   * @param options `timeout` (ms) and `signal`.
   * @returns A promise that resolves once they were applied.
   * @throws {RangeError} For a bad index or delta, or no operations.
   * @throws {IpcError} `EIDRM` (removed), `EBADF` (closed, also while
   *   waiting), `E2BIG`, `ERANGE`, `EACCES`.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async operate(
    operations: readonly SysvSemaphoreOperation[],
    options: WaitOptions = {},
  ): Promise<void> {
    this.#check("semop");
    const { timeout, signal } = options;
    checkTimeout(timeout);
    signal?.throwIfAborted();
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    let wait = 0.1;
    for (;;) {
      const sops = this.#encode(operations, IPC_NOWAIT);
      if (this.#once(sops, operations.length, null)) return;
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout!, `${WHAT} "${this.#label}"`);
      await pause(Math.min(wait, left), signal);
      wait = Math.min(wait * 2, 5);
      this.#check("semop");
    }
  }

  /**
   * Applies the operations atomically if they can be applied now
   * (`IPC_NOWAIT`).
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.temporary();
   * console.log(set.tryOperate([{ index: 0, delta: -1 }])); // false
   * console.log(set.tryOperate([{ index: 0, delta: 1 }])); // true
   * ```
   *
   * @param operations What to do, applied together.
   * @returns `true` when applied, `false` when they would have to wait.
   * @throws {RangeError} For a bad index or delta, or no operations.
   * @throws {IpcError} `EIDRM`, `E2BIG`, `ERANGE`, `EACCES`, `EBADF`.
   */
  tryOperate(operations: readonly SysvSemaphoreOperation[]): boolean {
    this.#check("semop");
    const sops = this.#encode(operations, IPC_NOWAIT);
    return this.#once(sops, operations.length, null);
  }

  /**
   * Removes the set at once (`IPC_RMID`); processes waiting on it fail with
   * `EIDRM`.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * using set = SysvSemaphoreSet.private();
   * set.remove();
   * ```
   *
   * @throws {IpcError} `EIDRM`/`EINVAL` (already removed), `EPERM` (not
   *   the owner or creator), `EBADF` (closed).
   */
  remove(): void {
    this.#check("semctl");
    this.#ctl(0, IPC_RMID, 0, "remove");
  }

  /**
   * Makes the handle unusable; the set stays (it is not a descriptor),
   * except a {@linkcode SysvSemaphoreSet.temporary} one, removed now.
   * Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * const set = SysvSemaphoreSet.temporary();
   * set.close();
   * set.close(); // no-op
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#removeOnClose) libc().semctl(this.#id, 0, IPC_RMID, 0);
  }

  /** Same as {@linkcode SysvSemaphoreSet.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function checkSysvValue(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > SEMVMX) {
    throw new RangeError(
      `A System V semaphore value must be an integer from 0 to ${SEMVMX} (SEMVMX), got ${value}`,
    );
  }
}
