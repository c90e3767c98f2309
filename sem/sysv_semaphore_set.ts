import {
  addressOf,
  arch,
  checkBoolean,
  checkInteger,
  checkMode,
  checkOptions,
  checkSignal,
  checkSysvId,
  checkSysvKey,
  checkTimeout,
  describeValue,
  errno,
  Handle,
  IPC_PRIVATE,
  IpcError,
  libc,
  parkWithBackoff,
  removeAtExit,
  sys,
  sysvKeyFromPath,
  sysvLabel,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import { relativeTimespec } from "./_shared.ts";

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

/**
 * How a handle may use a set: `"read"` reads values and waits for zero
 * (`delta: 0`); `"read-write"` also changes values.
 */
export type SysvSemaphoreAccess = "read" | "read-write";

/** Options for {@linkcode SysvSemaphoreSet.fromId}. */
export interface SysvSemaphoreSetIdOptions {
  /**
   * What this handle may do: with `"read"`, changing a value fails with
   * `EACCES` before any syscall.
   * @default {"read-write"}
   */
  access?: SysvSemaphoreAccess | undefined;
}

/** Options for {@linkcode SysvSemaphoreSet.open}. */
export interface SysvSemaphoreSetOptions {
  /**
   * Create the set if no set has the key (`IPC_CREAT`).
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * With `create`, fail with `EEXIST` if the key is taken (`IPC_EXCL`).
   * @default {false}
   */
  exclusive?: boolean | undefined;
  /**
   * Permission bits of a new set.
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * How many semaphores a new set holds, 1 to semmsl (`/proc/sys/kernel/sem`,
   * first field). Opening an existing set accepts any count up to its own.
   * @default {1}
   */
  count?: number | undefined;
  /**
   * What this handle may do. Opening an existing set asks the kernel for
   * read permission (`"read"`) or read and alter permission
   * (`"read-write"`), so a set whose mode refuses it fails with `EACCES`
   * here rather than on first use; with `"read"`, changing a value fails
   * with `EACCES` before any syscall.
   * @default {"read-write"}
   */
  access?: SysvSemaphoreAccess | undefined;
}

/** Options for a set without a key. */
export interface SysvPrivateSemaphoreSetOptions {
  /**
   * Permission bits.
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * How many semaphores the set holds.
   * @default {1}
   */
  count?: number | undefined;
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
  undo?: boolean | undefined;
}

/** A set's key and size (`IPC_STAT`), read before its handle exists. */
function statSet(id: number): { key: number; count: number } {
  const stat = new BigInt64Array(16);
  sys(() => libc().semctl(id, 0, IPC_STAT, addressOf(stat)), {
    syscall: "semctl",
    path: sysvLabel(IPC_PRIVATE, id),
    action: `read ${WHAT}`,
  });
  // struct semid_ds starts with struct ipc_perm, whose first field is the
  // key (key_t, 32 bits).
  return {
    key: Number(stat[0]! & 0xffffffffn),
    count: Number(stat[NSEMS_INDEX()]),
  };
}

function checkCount(count: unknown): number {
  return checkInteger(count, "count", 1, 65535);
}

function checkAccess(access: unknown): SysvSemaphoreAccess {
  if (access === undefined) return "read-write";
  if (access !== "read" && access !== "read-write") {
    throw new TypeError(
      `access must be "read" or "read-write", got ${describeValue(access)}`,
    );
  }
  return access;
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
export class SysvSemaphoreSet extends Handle {
  /**
   * The set's key (0 for a private set), unsigned; read from the kernel
   * (`IPC_STAT`), so a set reached by {@linkcode SysvSemaphoreSet.fromId}
   * has its real key too.
   */
  readonly key: number;
  /** How many semaphores the set holds. */
  readonly count: number;
  /** What this handle may do. */
  readonly access: SysvSemaphoreAccess;
  #id: number;
  #removeOnClose: boolean;
  #label: string;
  /** Forgets the removal at exit of a temporary set. */
  #forgetAtExit: (() => void) | undefined;

  private constructor(
    id: number,
    removeOnClose: boolean,
    access: SysvSemaphoreAccess,
  ) {
    // Stat first, so that every message (EBADF too) names the set by its
    // real key.
    const { key, count } = statSet(id);
    const label = sysvLabel(key, id);
    super(WHAT, label);
    this.#id = id;
    this.#removeOnClose = removeOnClose;
    this.access = access;
    this.key = key;
    this.#label = label;
    this.count = count;
    if (removeOnClose) {
      this.#forgetAtExit = removeAtExit(() =>
        libc().semctl(id, 0, IPC_RMID, 0)
      );
    }
  }

  /**
   * A handle on a set this call made: removes the set (`IPC_RMID`) when
   * the handle cannot be made, so a failed open leaks nothing.
   */
  static #adopt(
    id: number,
    removeOnClose: boolean,
    access: SysvSemaphoreAccess,
  ): SysvSemaphoreSet {
    try {
      return new SysvSemaphoreSet(id, removeOnClose, access);
    } catch (error) {
      libc().semctl(id, 0, IPC_RMID, 0);
      throw error;
    }
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
    options?: SysvSemaphoreSetOptions,
  ): SysvSemaphoreSet {
    const k = checkSysvKey(key, "SysvSemaphoreSet.private()");
    const o = checkOptions(options);
    const create = checkBoolean(o.create, "create", false);
    const exclusive = checkBoolean(o.exclusive, "exclusive", false);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode, 0o777);
    const count = o.count === undefined ? undefined : checkCount(o.count);
    const access = checkAccess(o.access);
    // Without IPC_CREAT the permission bits ask for access to the set.
    const wanted = access === "read" ? 0o444 : 0o666;
    const flags = create
      ? IPC_CREAT | (exclusive ? IPC_EXCL : 0) | mode
      : wanted;
    const failure = {
      syscall: "semget",
      path: sysvLabel(k),
      action: `open ${WHAT}`,
    };
    const n = count ?? (create ? 1 : 0);
    if (create && !exclusive) {
      // Learn whether this call creates the set: try exclusively first.
      const made = libc().semget(k, n, flags | IPC_EXCL);
      if (made >= 0) return SysvSemaphoreSet.#adopt(made, false, access);
      // EEXIST: open it below; any other failure is reported there.
    }
    const id = sys(
      () => libc().semget(k, n, flags),
      failure,
      (code) => semgetHint(code, create),
    );
    return create && exclusive
      ? SysvSemaphoreSet.#adopt(id, false, access)
      : new SysvSemaphoreSet(id, false, access);
  }

  /**
   * A key from an existing file and a project number, as ftok(3) makes it,
   * so processes that agree on a path find the same set (the file is
   * stat'ed through libc: `--allow-ffi` is enough in Deno).
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
    options?: SysvPrivateSemaphoreSetOptions,
  ): SysvSemaphoreSet {
    return SysvSemaphoreSet.#private(options, false);
  }

  /**
   * Creates a private set that is removed when the handle closes, and
   * when the process ends without closing it too: at its normal end, on
   * `process.exit()`, an uncaught error, or SIGINT/SIGTERM/SIGHUP that the
   * program does not handle itself (see ffi's `removeAtExit()`). SIGKILL
   * leaves it behind: `ipckit ls` lists such objects, `ipckit rm` removes
   * them.
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
    options?: SysvPrivateSemaphoreSetOptions,
  ): SysvSemaphoreSet {
    return SysvSemaphoreSet.#private(options, true);
  }

  static #private(
    options: SysvPrivateSemaphoreSetOptions | undefined,
    removeOnClose: boolean,
  ): SysvSemaphoreSet {
    const o = checkOptions(options);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode, 0o777);
    const count = checkCount(o.count === undefined ? 1 : o.count);
    const id = sys(
      () => libc().semget(IPC_PRIVATE, count, IPC_CREAT | mode),
      { syscall: "semget", action: `create ${WHAT}` },
      (code) => semgetHint(code, true),
    );
    return SysvSemaphoreSet.#adopt(id, removeOnClose, "read-write");
  }

  /**
   * A handle on the set with this id (from another process or `ipcs -s`),
   * checked with `IPC_STAT` (needs read permission); its
   * {@linkcode SysvSemaphoreSet.key} is the set's real key.
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
   * @param options What the handle may do.
   * @returns A handle on the set.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {TypeError} For a bad `access`.
   * @throws {IpcError} `EINVAL` (no such set), `EIDRM`, `EACCES`.
   */
  static fromId(
    id: number,
    options?: SysvSemaphoreSetIdOptions,
  ): SysvSemaphoreSet {
    checkSysvId(id, "semaphore set");
    const access = checkAccess(checkOptions(options).access);
    return new SysvSemaphoreSet(id, false, access);
  }

  /**
   * Removes the set with this id at once (`IPC_RMID`), without a handle:
   * processes waiting on it fail with `EIDRM`.
   *
   * @example
   * ```ts
   * import { SysvSemaphoreSet } from "@ipckit/ipc/sem";
   *
   * const set = SysvSemaphoreSet.private();
   * const id = set.id;
   * set.close(); // a private set stays after close
   * SysvSemaphoreSet.remove(id);
   * ```
   *
   * @param id The set's id.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {IpcError} `EINVAL`/`EIDRM` (no such set), `EPERM` (not the
   *   owner or creator).
   */
  static remove(id: number): void {
    checkSysvId(id, "semaphore set");
    sys(() => libc().semctl(id, 0, IPC_RMID, 0), {
      syscall: "semctl",
      path: sysvLabel(IPC_PRIVATE, id),
      action: `remove ${WHAT}`,
    });
  }

  /** The set's id, as `ipcs -s` shows it. */
  get id(): number {
    return this.#check("semctl");
  }

  #check(syscall: string): number {
    this.checkOpen(syscall);
    return this.#id;
  }

  /** Refuses a change through a handle opened with `access: "read"`. */
  #checkWrite(syscall: string): void {
    if (this.access === "read") {
      throw new IpcError("EACCES", {
        syscall,
        path: this.#label,
        action: `change ${WHAT}`,
        hint: `This handle was opened with { access: "read" }`,
      });
    }
  }

  #ctl(index: number, cmd: number, arg: number, action: string): number {
    return sys(() => libc().semctl(this.#id, index, cmd, arg), {
      syscall: "semctl",
      path: this.#label,
      action: `${action} ${WHAT}`,
    });
  }

  #checkIndex(index: unknown): void {
    checkInteger(index, "index", 0, this.count - 1);
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
    this.#checkWrite("semctl");
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
    this.#checkWrite("semctl");
    if (!Array.isArray(values)) {
      throw new TypeError(`values must be an array, got ${typeof values}`);
    }
    if (values.length !== this.count) {
      throw new RangeError(
        `setAll needs ${this.count} values, got ${values?.length}`,
      );
    }
    // A plain loop: forEach skips the holes of a sparse array.
    for (let i = 0; i < values.length; i++) checkSysvValue(values[i]);
    const array = Uint16Array.from(values);
    this.#ctl(0, SETALL, addressOf(array), "set");
  }

  #encode(ops: readonly SysvSemaphoreOperation[], extra: number): Uint16Array {
    if (!Array.isArray(ops)) {
      throw new TypeError(`operations must be an array, got ${typeof ops}`);
    }
    if (ops.length === 0) {
      throw new RangeError("operations must be a non-empty array");
    }
    const sops = new Uint16Array(ops.length * 3);
    Array.from(ops).forEach((op, i) => { // holes become undefined: refused
      if (op === null || typeof op !== "object") {
        throw new TypeError(
          `operations[${i}] must be an object { index, delta, undo? }`,
        );
      }
      this.#checkIndex(op.index);
      checkInteger(op.delta, "delta", -32768, 32767);
      if (op.delta !== 0) this.#checkWrite("semop");
      checkBoolean(op.undo, "undo", false);
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
    options?: WaitSyncOptions,
  ): void {
    const timeout = checkTimeout(checkOptions(options).timeout);
    this.#check("semop");
    const sops = this.#encode(operations, 0);
    const n = operations.length;
    if (timeout === undefined) {
      this.#once(sops, n, null);
      return;
    }
    // semtimedop(2) both waits and applies: the park does the work, with
    // the time left (the kernel's own relative timeout).
    const nowait = this.#encode(operations, IPC_NOWAIT);
    let done = false;
    waitUntilSync({
      attempt: () => done || this.#once(nowait, n, null) || undefined,
      park: (left) => {
        done = this.#once(sops, n, relativeTimespec(left));
      },
      check: () => void this.#check("semop"),
      what: `${WHAT} "${this.#label}"`,
    }, { timeout });
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
    options?: WaitOptions,
  ): Promise<void> {
    const o = checkOptions(options);
    const signal = checkSignal(o.signal);
    checkTimeout(o.timeout);
    this.#check("semop");
    const sops = this.#encode(operations, IPC_NOWAIT);
    const n = operations.length;
    await waitUntil<true>({
      attempt: () => this.#once(sops, n, null) || undefined,
      park: parkWithBackoff(),
      check: () => void this.#check("semop"),
      what: `${WHAT} "${this.#label}"`,
      closing: this.closing,
    }, { timeout: o.timeout, signal });
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
   * Makes the handle unusable (pending `operate()` calls reject with
   * `EBADF`); the set stays (it is not a descriptor), except a
   * {@linkcode SysvSemaphoreSet.temporary} one, removed now. Closing twice
   * does nothing.
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
  override close(): void {
    super.close();
  }

  /** Removes a temporary set. */
  protected release(): void {
    if (this.#removeOnClose) {
      this.#forgetAtExit?.();
      libc().semctl(this.#id, 0, IPC_RMID, 0);
    }
  }
}

function checkSysvValue(value: unknown): void {
  checkInteger(value, "A System V semaphore value (SEMVMX at most)", 0, SEMVMX);
}
