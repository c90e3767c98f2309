import {
  checkSysvId,
  checkSysvKey,
  closedError,
  errno,
  IPC_PRIVATE,
  IpcError,
  libc,
  sys,
  sysvKeyFromPath,
  sysvLabel,
  type WaitOptions,
} from "../ffi/mod.ts";

const IPC_CREAT = 0o1000;
const IPC_EXCL = 0o2000;
const IPC_NOWAIT = 0o4000;
const MSG_EXCEPT = 0o20000;
const IPC_RMID = 0;
const IPC_SET = 1;
const IPC_STAT = 2;
const IPC_INFO = 3;
const E2BIG = 7;
const EINTR = 4;
const EAGAIN = 11;
const EINVAL = 22;
const ENOMSG = 42;
const EIDRM = 43;
/** `long mtype` before the text: 8 bytes on x86_64 and aarch64. */
const HEADER = 8;
/** The kernel's default for /proc/sys/kernel/msgmax, if IPC_INFO fails. */
const DEFAULT_MSGMAX = 8192;
/** Back-off between non-blocking attempts: first and longest pause, ms. */
const FIRST_PAUSE = 0.1;
const LONGEST_PAUSE = 5;
const WHAT = "System V message queue";
const encoder = new TextEncoder();

/** Options for {@linkcode SysvMessageQueue.open}. */
export interface SysvMessageQueueOptions {
  /**
   * Create the queue if no queue has this key (`IPC_CREAT`).
   * @default {false}
   */
  create?: boolean;
  /**
   * With `create`, fail with `EEXIST` if a queue has this key (`IPC_EXCL`).
   * @default {false}
   */
  exclusive?: boolean;
  /**
   * Permission bits (`0o777` at most) of a new queue; the umask does not
   * apply to System V objects. With `create`, msgget(2) also checks these
   * bits against an existing queue's mode, as the access asked for.
   * @default {0o600}
   */
  mode?: number;
  /**
   * Without `create`: the access msgget(2) checks against the queue's mode,
   * so a queue this user may not use fails at once with `EACCES` (the
   * kernel checks again on every send and receive).
   * @default {"read-write"}
   */
  access?: "read" | "write" | "read-write";
}

/** Options for {@linkcode SysvMessageQueue.private} and `temporary`. */
export interface SysvPrivateQueueOptions {
  /**
   * Permission bits (`0o777` at most) of the new queue.
   * @default {0o600}
   */
  mode?: number;
}

/** Options for receiving: which message to take, and how long to wait. */
export interface SysvReceiveOptions extends WaitOptions {
  /**
   * Which message to take, as msgrcv(2)'s `msgtyp`: `0` the first message
   * in the queue, `n > 0` the first message of type `n`, `n < 0` the first
   * message of the lowest type that is at most `|n|`.
   * @default {0}
   */
  type?: number;
  /**
   * With a positive `type`: take the first message whose type is *not*
   * `type` (`MSG_EXCEPT`).
   * @default {false}
   */
  except?: boolean;
}

/** Options for the receive forms that do not wait. */
export type SysvSelectOptions = Pick<SysvReceiveOptions, "type" | "except">;

/** Options for the blocking (`Sync`) receive forms. */
export type SysvReceiveSyncOptions = Omit<SysvReceiveOptions, "signal">;

/** A received System V message. */
export interface SysvMessage {
  /** Its type (`mtype`), a positive integer. */
  type: number;
  /** The message bytes (a copy the caller owns). */
  data: Uint8Array;
}

/** The result of receiving into a caller's buffer. */
export interface SysvReceivedInto {
  /** The message's type (`mtype`). */
  type: number;
  /** How many bytes of the buffer hold the message. */
  length: number;
}

/** A queue's state, from msgctl(2) `IPC_STAT` (`struct msqid_ds`). */
export interface SysvMessageQueueAttributes {
  /** The key, as an unsigned 32-bit number (0 for a private queue). */
  key: number;
  /** Permission bits. */
  mode: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Messages in the queue right now (`msg_qnum`). */
  currentMessages: number;
  /** Bytes of message text in the queue right now (`msg_cbytes`). */
  currentBytes: number;
  /**
   * Capacity in bytes of message text (`msg_qbytes`); it also caps the
   * number of messages. Starts at /proc/sys/kernel/msgmnb.
   */
  maxBytes: number;
  /** Process id of the last sender, 0 if none (`msg_lspid`). */
  lastSendPid: number;
  /** Process id of the last receiver, 0 if none (`msg_lrpid`). */
  lastReceivePid: number;
  /** Time of the last send, or `undefined` if none yet (`msg_stime`). */
  lastSendTime: Date | undefined;
  /** Time of the last receive, or `undefined` if none yet (`msg_rtime`). */
  lastReceiveTime: Date | undefined;
  /** Time of creation or of the last `IPC_SET` (`msg_ctime`). */
  changeTime: Date;
}

/** What {@linkcode SysvMessageQueue.setAttributes} may change (`IPC_SET`). */
export interface SysvMessageQueueChanges {
  /**
   * New capacity in bytes (`msg_qbytes`); raising it above
   * /proc/sys/kernel/msgmnb needs `CAP_SYS_RESOURCE`.
   * @default {unchanged}
   */
  maxBytes?: number;
  /**
   * New permission bits (`0o777` at most).
   * @default {unchanged}
   */
  mode?: number;
  /**
   * New owner user id.
   * @default {unchanged}
   */
  uid?: number;
  /**
   * New owner group id.
   * @default {unchanged}
   */
  gid?: number;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(
    `A message must be a Uint8Array or a string, got ${typeof data}`,
  );
}

function checkMode(mode: number): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError(
      `mode must be an integer from 0 to 0o777, got ${mode}`,
    );
  }
}

function checkSendType(type: number): void {
  if (typeof type !== "number" || !Number.isSafeInteger(type) || type <= 0) {
    throw new RangeError(
      `A message type must be a positive integer, got ${String(type)}`,
    );
  }
}

function receiveFlags(options: SysvSelectOptions): [number, number] {
  const { type = 0, except = false } = options;
  if (typeof type !== "number" || !Number.isSafeInteger(type)) {
    throw new RangeError(
      `The type to receive must be an integer, got ${String(type)}`,
    );
  }
  if (except && type <= 0) {
    throw new RangeError(
      `except needs a positive type to exclude, got ${type}`,
    );
  }
  return [type, except ? MSG_EXCEPT : 0];
}

function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && !(timeout >= 0)) {
    throw new RangeError(
      `timeout must be a number of milliseconds >= 0, got ${timeout}`,
    );
  }
}

/** The largest message the kernel accepts now (`msgmax`), from IPC_INFO. */
function readMsgmax(): number {
  const info = new Int32Array(8); // struct msginfo: msgmax is the third int
  const r = libc().msgctl(0, IPC_INFO, info);
  return r === -1 || info[2] <= 0 ? DEFAULT_MSGMAX : info[2];
}

function msggetHint(code: string, create: boolean): string | undefined {
  switch (code) {
    case "ENOENT":
      return create
        ? undefined
        : "No queue has this key; pass { create: true } to create it";
    case "EEXIST":
      return "A queue with this key exists and { exclusive: true } was given";
    case "EACCES":
      return "The queue's mode does not allow this user the requested access";
    case "ENOSPC":
      return "The system-wide limit on System V queues was reached " +
        '(/proc/sys/kernel/msgmni); remove unused queues with "ipcrm -q ID"';
  }
  return undefined;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` milliseconds (fractions allowed). */
function pauseSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * A System V message queue (sysvipc(7), msgget(2)): a kernel-held queue of
 * typed messages named by a numeric key (or private to whoever learns its
 * id), shared by any processes with permission. Each message carries a
 * positive `type` (`mtype`), and a receiver may take the first message, the
 * first of one type, or the first of the lowest type up to a bound: one
 * queue can carry several independent streams.
 *
 * A queue is not a descriptor and lives until removed
 * ({@linkcode SysvMessageQueue.remove}, `ipcrm -q`) or reboot; closing a
 * handle only makes that handle unusable. Limits: a message holds at most
 * /proc/sys/kernel/msgmax bytes (8192 by default) and a queue at most
 * `maxBytes` (/proc/sys/kernel/msgmnb, 16384 by default) bytes of text and
 * as many messages.
 *
 * Waiting has a cost here. The kernel cannot tell a poll(2) or epoll(7)
 * that a System V queue is ready, so only the `Sync` forms without a
 * `timeout` block inside the kernel (msgsnd(2)/msgrcv(2), waking at once).
 * `send()`/`receive()` and the `Sync` forms with a `timeout` retry a
 * non-blocking call with pauses that start at 0.1 ms and double up to 5 ms:
 * a message that arrives while a waiter sleeps is seen up to 5 ms late
 * (about 1 ms at best in the async forms, the timers' resolution), and an
 * idle waiter costs one syscall per 5 ms. Pick a POSIX
 * {@linkcode MessageQueue} when latency matters.
 *
 * @example Two streams in one queue
 * ```ts
 * import { SysvMessageQueue } from "@ipckit/ipc/mq";
 *
 * using q = SysvMessageQueue.temporary();
 * q.sendSync(1, "for workers");
 * q.sendSync(2, "for the logger");
 * const log = await q.receive({ type: 2, timeout: 1000 });
 * console.log(log.type, new TextDecoder().decode(log.data)); // 2 for the logger
 * ```
 */
export class SysvMessageQueue
  implements Disposable, AsyncIterable<SysvMessage> {
  /**
   * The queue's key as an unsigned 32-bit number, or 0 for a private queue
   * (`IPC_PRIVATE`).
   */
  readonly key: number;
  #id: number;
  #closed = false;
  #removeOnClose: boolean;
  #label: string;
  #msgmax: number;
  #send!: Uint8Array;
  #sendWords!: Uint32Array;
  #receive!: Uint8Array;
  #receiveWords!: Uint32Array;
  #stat = new BigInt64Array(15); // struct msqid_ds, 120 bytes
  #wakers = new Set<() => void>();

  private constructor(id: number, key: number, removeOnClose: boolean) {
    this.#id = id;
    this.key = key >>> 0;
    this.#removeOnClose = removeOnClose;
    this.#label = sysvLabel(key, id);
    this.#msgmax = readMsgmax();
    this.#growSend(this.#msgmax);
    this.#growReceive(this.#msgmax);
  }

  /**
   * Opens (and with `create`, creates) the queue with a key. See msgget(2);
   * {@linkcode SysvMessageQueue.keyFromPath} makes a key from a file, like
   * ftok(3).
   *
   * @example Creating a queue with a key
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.open(0x1c0ffee, { create: true, mode: 0o600 });
   * q.sendSync(1, "job 1");
   * q.remove();
   * ```
   *
   * @param key A 32-bit integer, signed or unsigned, but not 0
   *   (`IPC_PRIVATE`: use {@linkcode SysvMessageQueue.private}).
   * @param options Creation flags, mode and access.
   * @returns A handle on the queue.
   * @throws {RangeError} For a key that is 0 or not a 32-bit integer, or a
   *   bad mode.
   * @throws {IpcError} `ENOENT` (no such key, no `create`), `EEXIST`
   *   (`exclusive`), `EACCES`, `ENOSPC` (msgmni reached).
   */
  static open(
    key: number,
    options: SysvMessageQueueOptions = {},
  ): SysvMessageQueue {
    const k = checkSysvKey(key, "SysvMessageQueue.private()");
    const {
      create = false,
      exclusive = false,
      mode = 0o600,
      access = "read-write",
    } = options;
    checkMode(mode);
    const accessBits = { read: 0o400, write: 0o200, "read-write": 0o600 }[
      access
    ];
    if (accessBits === undefined) {
      throw new TypeError(
        `access must be "read", "write" or "read-write", got ${access}`,
      );
    }
    const flags = create
      ? IPC_CREAT | (exclusive ? IPC_EXCL : 0) | mode
      : accessBits;
    const id = sys(() => libc().msgget(k, flags), {
      syscall: "msgget",
      path: sysvLabel(k),
      action: `open ${WHAT}`,
    }, (code) => msggetHint(code, create));
    return new SysvMessageQueue(id, k, false);
  }

  /**
   * Creates a new queue without a key (`IPC_PRIVATE`): other processes
   * reach it only through its {@linkcode SysvMessageQueue.id}, with
   * {@linkcode SysvMessageQueue.fromId}. It lives until removed.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.private({ mode: 0o600 });
   * console.log(q.key); // 0
   * q.remove();
   * ```
   *
   * @param options The new queue's `mode`.
   * @returns A handle on the new queue.
   * @throws {RangeError} For a bad mode.
   * @throws {IpcError} `ENOSPC` (msgmni reached).
   */
  static private(options: SysvPrivateQueueOptions = {}): SysvMessageQueue {
    return SysvMessageQueue.#private(options, false);
  }

  /**
   * Creates a private queue that is removed when the handle closes: the
   * System V counterpart of a temporary file.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * console.log(q.id >= 0); // true
   * ```
   *
   * @param options The new queue's `mode`.
   * @returns A handle on the new queue.
   * @throws {RangeError} For a bad mode.
   * @throws {IpcError} `ENOSPC` (msgmni reached).
   */
  static temporary(options: SysvPrivateQueueOptions = {}): SysvMessageQueue {
    return SysvMessageQueue.#private(options, true);
  }

  static #private(
    options: SysvPrivateQueueOptions,
    removeOnClose: boolean,
  ): SysvMessageQueue {
    const { mode = 0o600 } = options;
    checkMode(mode);
    const id = sys(() => libc().msgget(IPC_PRIVATE, IPC_CREAT | mode), {
      syscall: "msgget",
      action: `create ${WHAT}`,
    }, (code) => msggetHint(code, true));
    try {
      return new SysvMessageQueue(id, IPC_PRIVATE, removeOnClose);
    } catch (error) {
      libc().msgctl(id, IPC_RMID, null);
      throw error;
    }
  }

  /**
   * A handle on the queue with this id (from another process, or `ipcs
   * -q`). The id is checked with `IPC_STAT`, which needs read permission.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * using same = SysvMessageQueue.fromId(q.id);
   * same.sendSync(7, "hi");
   * console.log(q.receiveSync().type); // 7
   * ```
   *
   * @param id The queue id.
   * @returns A handle on the queue.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {IpcError} `EINVAL` (no queue has this id), `EACCES`.
   */
  static fromId(id: number): SysvMessageQueue {
    checkSysvId(id, "queue");
    const stat = new BigInt64Array(15);
    sys(
      () => libc().msgctl(id, IPC_STAT, stat),
      {
        syscall: "msgctl",
        path: `id ${id}`,
        action: `open ${WHAT}`,
      },
      (code) =>
        code === "EINVAL"
          ? "No queue has this id (was it removed?)"
          : code === "EACCES"
          ? "Reading a queue's state (IPC_STAT) needs read permission"
          : undefined,
    );
    return new SysvMessageQueue(id, new Int32Array(stat.buffer)[0], false);
  }

  /**
   * Removes the queue with this id at once (msgctl(2) `IPC_RMID`): waiting
   * senders and receivers in every process fail with `EIDRM`, and queued
   * messages are lost. Needs to be the owner, the creator, or privileged.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * const q = SysvMessageQueue.private();
   * SysvMessageQueue.remove(q.id);
   * q.close();
   * ```
   *
   * @param id The queue id.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {IpcError} `EINVAL` (no queue has this id: already removed?),
   *   `EPERM`.
   */
  static remove(id: number): void {
    checkSysvId(id, "queue");
    sys(
      () => libc().msgctl(id, IPC_RMID, null),
      {
        syscall: "msgctl",
        path: `id ${id}`,
        action: `remove ${WHAT}`,
      },
      (code) =>
        code === "EINVAL"
          ? "No queue has this id (already removed?)"
          : code === "EPERM"
          ? "Only the queue's owner or creator (or a privileged process) may remove it"
          : undefined,
    );
  }

  /**
   * A key from an existing file and a project number, computed as ftok(3)
   * does (glibc): the project's low 8 bits, the device's low 8 bits and the
   * inode's low 16 bits. Processes that agree on a path and project get the
   * same key; different files may collide. Needs `--allow-read` in Deno.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * const key = SysvMessageQueue.keyFromPath("/tmp", 1);
   * console.log(key > 0); // true
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

  /** The queue id (`msqid`), the handle every process uses. */
  get id(): number {
    return this.#check("msgctl");
  }

  /** Whether {@linkcode SysvMessageQueue.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The queue's state (msgctl(2) `IPC_STAT`; needs read permission).
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.sendSync(1, "abc");
   * const { currentMessages, currentBytes } = q.attributes;
   * console.log(currentMessages, currentBytes); // 1 3
   * ```
   *
   * @throws {IpcError} `EIDRM` (removed), `EACCES`, `EBADF` (closed).
   */
  get attributes(): SysvMessageQueueAttributes {
    this.#check("msgctl");
    const s = this.#readStat("read attributes of");
    const words = new Int32Array(s.buffer);
    const time = (t: bigint) =>
      t === 0n ? undefined : new Date(Number(t) * 1000);
    return {
      key: words[0] >>> 0,
      uid: words[1] >>> 0,
      gid: words[2] >>> 0,
      mode: words[5] & 0o777,
      lastSendTime: time(s[6]),
      lastReceiveTime: time(s[7]),
      changeTime: new Date(Number(s[8]) * 1000),
      currentBytes: Number(s[9]),
      currentMessages: Number(s[10]),
      maxBytes: Number(s[11]),
      lastSendPid: words[24],
      lastReceivePid: words[25],
    };
  }

  /**
   * Changes the queue's capacity, mode or owner (msgctl(2) `IPC_SET`); the
   * fields not given keep their values. Needs to be the owner or creator.
   *
   * @example Shrinking a queue
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.setAttributes({ maxBytes: 64 });
   * console.log(q.attributes.maxBytes); // 64
   * ```
   *
   * @param changes What to change.
   * @throws {RangeError} For a negative or non-integer value.
   * @throws {IpcError} `EPERM` (not the owner, or `maxBytes` above msgmnb
   *   without `CAP_SYS_RESOURCE`), `EIDRM`, `EBADF` (closed).
   */
  setAttributes(changes: SysvMessageQueueChanges): void {
    this.#check("msgctl");
    const { maxBytes, mode, uid, gid } = changes;
    for (const [name, value] of Object.entries({ maxBytes, uid, gid })) {
      if (
        value !== undefined &&
        (!Number.isInteger(value) || value < 0 || value > 2 ** 32 - 1)
      ) {
        throw new RangeError(
          `${name} must be a non-negative integer, got ${value}`,
        );
      }
    }
    if (mode !== undefined) checkMode(mode);
    const s = this.#readStat("change attributes of");
    const words = new Uint32Array(s.buffer);
    if (uid !== undefined) words[1] = uid;
    if (gid !== undefined) words[2] = gid;
    if (mode !== undefined) words[5] = (words[5] & ~0o777) | mode;
    if (maxBytes !== undefined) s[11] = BigInt(maxBytes);
    this.#ctl(IPC_SET, s, "change attributes of");
  }

  #readStat(action: string): BigInt64Array {
    this.#ctl(IPC_STAT, this.#stat, action);
    return this.#stat;
  }

  #ctl(cmd: number, buf: BigInt64Array | null, action: string): void {
    for (;;) {
      if (libc().msgctl(this.#id, cmd, buf) !== -1) return;
      const e = errno();
      if (e !== EINTR) throw this.#error(e, "msgctl", `${action} ${WHAT}`);
    }
  }

  /** An IpcError for a failure of a call on this queue. */
  #error(e: number, syscall: string, action: string, hint?: string): IpcError {
    if (e === EIDRM || e === EINVAL) {
      // On a handle that worked, EINVAL means the id no longer names a queue:
      // removed while we were not blocked in the kernel (which says EIDRM).
      return new IpcError(EIDRM, {
        syscall,
        path: this.#label,
        action,
        hint: `The queue (id ${this.#id}) was removed`,
      });
    }
    if (e === 13 && hint === undefined) {
      hint = "The queue's mode does not allow this user this access";
    }
    return new IpcError(e, { syscall, path: this.#label, action, hint });
  }

  #check(syscall: string): number {
    if (this.#closed) throw closedError(WHAT, this.#label, syscall);
    return this.#id;
  }

  #growSend(size: number): void {
    this.#send = new Uint8Array(HEADER + size);
    this.#sendWords = new Uint32Array(this.#send.buffer, 0, 2);
  }

  #growReceive(size: number): void {
    this.#receive = new Uint8Array(HEADER + size);
    this.#receiveWords = new Uint32Array(this.#receive.buffer, 0, 2);
  }

  #tooBig(length: number, limit: number, what: string): IpcError {
    return new IpcError("EMSGSIZE", {
      syscall: "msgsnd",
      path: this.#label,
      action: `send to ${WHAT}`,
      hint: `The message is ${length} bytes; ${what} is ${limit}`,
    });
  }

  /** Checks a message against msgmax before any syscall. */
  #checkSend(type: number, bytes: Uint8Array): void {
    checkSendType(type);
    if (bytes.length > this.#msgmax) {
      this.#msgmax = readMsgmax(); // the limit may have been raised
      if (bytes.length > this.#msgmax) {
        throw this.#tooBig(
          bytes.length,
          this.#msgmax,
          "the largest System V message (/proc/sys/kernel/msgmax)",
        );
      }
    }
  }

  /** A message larger than the queue's capacity would wait forever. */
  #checkFits(length: number): void {
    const maxBytes = Number(this.#readStat("send to")[11]);
    if (length > maxBytes) {
      throw this.#tooBig(
        length,
        maxBytes,
        "the queue's maxBytes (msg_qbytes), so it could never fit",
      );
    }
  }

  /** One msgsnd; `false` when it would block (only with IPC_NOWAIT). */
  #sendOnce(type: number, bytes: Uint8Array, flags: number): boolean {
    if (bytes.length + HEADER > this.#send.length) this.#growSend(bytes.length);
    const buf = this.#send;
    this.#sendWords[0] = type % 2 ** 32;
    this.#sendWords[1] = Math.floor(type / 2 ** 32);
    buf.set(bytes, HEADER);
    for (;;) {
      if (libc().msgsnd(this.#id, buf, bytes.length, flags) !== -1) return true;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN && (flags & IPC_NOWAIT) !== 0) return false;
      if (e === EINVAL && bytes.length > (this.#msgmax = readMsgmax())) {
        throw this.#tooBig(
          bytes.length,
          this.#msgmax,
          "the largest System V message (/proc/sys/kernel/msgmax)",
        );
      }
      throw this.#error(e, "msgsnd", `send to ${WHAT}`);
    }
  }

  /**
   * One msgrcv into the receive scratch, taking at most `limit` bytes;
   * `undefined` when nothing matches (only with IPC_NOWAIT).
   */
  #receiveOnce(
    type: number,
    flags: number,
    limit: number,
  ): SysvReceivedInto | undefined {
    for (;;) {
      if (this.#receive.length < HEADER + limit) this.#growReceive(limit);
      const n = libc().msgrcv(this.#id, this.#receive, limit, type, flags);
      if (n !== -1) {
        const w = this.#receiveWords;
        return { type: w[1] * 2 ** 32 + w[0], length: n };
      }
      const e = errno();
      if (e === EINTR) continue;
      if ((e === ENOMSG || e === EAGAIN) && (flags & IPC_NOWAIT) !== 0) {
        return undefined;
      }
      throw this.#error(
        e,
        "msgrcv",
        `receive from ${WHAT}`,
        e === E2BIG
          ? `The next matching message is larger than ${limit} bytes; it stays in the queue`
          : undefined,
      );
    }
  }

  /** Takes a message into a new array; grows the scratch if msgmax grew. */
  #receiveCopy(type: number, flags: number): SysvMessage | undefined {
    for (;;) {
      try {
        const got = this.#receiveOnce(type, flags, this.#msgmax);
        return got === undefined ? undefined : {
          type: got.type,
          data: this.#receive.slice(HEADER, HEADER + got.length),
        };
      } catch (error) {
        if (!(error instanceof IpcError) || error.errno !== E2BIG) throw error;
        const msgmax = readMsgmax();
        if (msgmax <= this.#msgmax) throw error;
        this.#msgmax = msgmax;
      }
    }
  }

  #receiveInto(
    buffer: Uint8Array,
    type: number,
    flags: number,
  ): SysvReceivedInto | undefined {
    const got = this.#receiveOnce(type, flags, buffer.length);
    if (got !== undefined) {
      buffer.set(this.#receive.subarray(HEADER, HEADER + got.length));
    }
    return got;
  }

  #timeoutError(ms: number): DOMException {
    return new DOMException(
      `Timed out after ${ms} ms on ${WHAT} "${this.#label}"`,
      "TimeoutError",
    );
  }

  /** Retries `attempt` with IPC_NOWAIT, pausing the thread in between. */
  #retrySync<T>(
    attempt: () => T | undefined,
    syscall: string,
    timeout: number,
    onBlock?: () => void,
  ): T {
    const deadline = performance.now() + timeout;
    let pause = FIRST_PAUSE;
    for (;;) {
      const result = attempt();
      if (result !== undefined) return result;
      if (pause === FIRST_PAUSE) onBlock?.();
      const left = deadline - performance.now();
      if (left <= 0) throw this.#timeoutError(timeout);
      pauseSync(Math.min(pause, left));
      pause = Math.min(pause * 2, LONGEST_PAUSE);
      this.#check(syscall);
    }
  }

  /**
   * Retries `attempt` with IPC_NOWAIT, pausing on timers in between, so the
   * event loop stays free. `close()` and `remove()` wake the pauses early.
   */
  async #retry<T>(
    attempt: () => T | undefined,
    syscall: string,
    options: WaitOptions,
    onBlock?: () => void,
  ): Promise<T> {
    const { signal, timeout } = options;
    signal?.throwIfAborted();
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    let pause = FIRST_PAUSE;
    for (;;) {
      const result = attempt();
      if (result !== undefined) return result;
      if (pause === FIRST_PAUSE) onBlock?.();
      const left = deadline - performance.now();
      if (left <= 0) throw this.#timeoutError(timeout!);
      await this.#pause(Math.min(pause, left), signal);
      signal?.throwIfAborted();
      pause = Math.min(pause * 2, LONGEST_PAUSE);
      this.#check(syscall);
    }
  }

  /**
   * A blocking receive through `attempt` with the selected type: one
   * waiting msgrcv without `timeout`, else `attempt` retried with IPC_NOWAIT.
   */
  #receiveWaitingSync<T>(
    options: SysvReceiveSyncOptions,
    attempt: (type: number, flags: number) => T | undefined,
  ): T {
    const [type, flags] = receiveFlags(options);
    const { timeout } = options;
    checkTimeout(timeout);
    if (timeout === undefined) return attempt(type, flags)!;
    return this.#retrySync(
      () => attempt(type, flags | IPC_NOWAIT),
      "msgrcv",
      timeout,
    );
  }

  /** A receive through `attempt` that keeps the event loop free. */
  #receiveWaiting<T>(
    options: SysvReceiveOptions,
    attempt: (type: number, flags: number) => T | undefined,
  ): Promise<T> {
    const [type, flags] = receiveFlags(options);
    checkTimeout(options.timeout);
    return this.#retry(
      () => attempt(type, flags | IPC_NOWAIT),
      "msgrcv",
      options,
    );
  }

  #pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#wakers.delete(done);
      };
      const done = () => {
        settle();
        resolve();
      };
      const onAbort = () => {
        settle();
        reject(signal!.reason);
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /**
   * Sends a message, blocking the thread (and the event loop) while the
   * queue is full. Without `timeout` the wait is msgsnd(2) itself; with one,
   * a non-blocking msgsnd retried with pauses of 0.1 to 5 ms.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.sendSync(3, new Uint8Array([1, 2, 3]));
   * q.sendSync(4, "text", { timeout: 100 });
   * ```
   *
   * @param type The message type, a positive integer (up to
   *   `Number.MAX_SAFE_INTEGER`).
   * @param data The message; strings are sent as UTF-8.
   * @param options `timeout` in ms (monotonic clock).
   * @throws {RangeError} For a type that is not a positive integer.
   * @throws {IpcError} `EMSGSIZE` (larger than msgmax or the queue's
   *   `maxBytes`), `EIDRM` (removed), `EACCES`, `EBADF` (closed).
   * @throws {DOMException} `TimeoutError` when the queue stayed full.
   */
  sendSync(
    type: number,
    data: Uint8Array | string,
    options: { timeout?: number } = {},
  ): void {
    this.#check("msgsnd");
    const bytes = toBytes(data);
    this.#checkSend(type, bytes);
    const { timeout } = options;
    checkTimeout(timeout);
    if (this.#sendOnce(type, bytes, IPC_NOWAIT)) return;
    this.#checkFits(bytes.length);
    if (timeout === undefined) {
      this.#sendOnce(type, bytes, 0);
      return;
    }
    this.#retrySync(
      () => this.#sendOnce(type, bytes, IPC_NOWAIT) || undefined,
      "msgsnd",
      timeout,
    );
  }

  /**
   * Sends a message, waiting without blocking the event loop while the
   * queue is full (retrying with pauses of 0.1 to 5 ms).
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * await q.send(1, "hello", { timeout: 1000 });
   * ```
   *
   * @param type The message type, a positive integer.
   * @param data The message; strings are sent as UTF-8.
   * @param options `timeout` (ms) and `signal`.
   * @returns A promise that resolves once the message is in the queue.
   * @throws {RangeError} For a type that is not a positive integer.
   * @throws {IpcError} `EMSGSIZE`, `EIDRM` (also when removed while
   *   waiting), `EACCES`, `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async send(
    type: number,
    data: Uint8Array | string,
    options: WaitOptions = {},
  ): Promise<void> {
    this.#check("msgsnd");
    const bytes = toBytes(data);
    this.#checkSend(type, bytes);
    checkTimeout(options.timeout);
    await this.#retry(
      () => this.#sendOnce(type, bytes, IPC_NOWAIT) || undefined,
      "msgsnd",
      options,
      () => this.#checkFits(bytes.length),
    );
  }

  /**
   * Sends a message if there is room, without waiting.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.setAttributes({ maxBytes: 4 });
   * console.log(q.trySend(1, "abcd")); // true
   * console.log(q.trySend(1, "e")); // false: full
   * ```
   *
   * @param type The message type, a positive integer.
   * @param data The message; strings are sent as UTF-8.
   * @returns `true` when sent, `false` when the queue is full.
   * @throws {RangeError} For a type that is not a positive integer.
   * @throws {IpcError} `EMSGSIZE` (larger than msgmax), `EIDRM`, `EACCES`,
   *   `EBADF`.
   */
  trySend(type: number, data: Uint8Array | string): boolean {
    this.#check("msgsnd");
    const bytes = toBytes(data);
    this.#checkSend(type, bytes);
    return this.#sendOnce(type, bytes, IPC_NOWAIT);
  }

  /**
   * Receives a message, blocking the thread (and the event loop) until one
   * of the selected type arrives. Without `timeout` the wait is msgrcv(2)
   * itself; with one, a non-blocking msgrcv retried with pauses of 0.1 to
   * 5 ms.
   *
   * @example Taking the lowest type first
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.sendSync(5, "routine");
   * q.sendSync(1, "urgent");
   * console.log(q.receiveSync({ type: -10 }).type); // 1
   * ```
   *
   * @param options `type` (and `except`) select the message, as msgrcv(2);
   *   `timeout` in ms (monotonic clock).
   * @returns The message and its type.
   * @throws {RangeError} For a type that is not an integer.
   * @throws {IpcError} `EIDRM` (removed, also while blocked), `EACCES`,
   *   `EBADF` (closed).
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveSync(options: SysvReceiveSyncOptions = {}): SysvMessage {
    this.#check("msgrcv");
    return this.#receiveWaitingSync(
      options,
      (type, flags) => this.#receiveCopy(type, flags),
    );
  }

  /**
   * Receives a message without blocking the event loop (retrying with
   * pauses of 0.1 to 5 ms while none of the selected type is queued).
   *
   * @example Waiting with a deadline
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * setTimeout(() => q.sendSync(2, "reply"), 10);
   * const { type, data } = await q.receive({ type: 2, timeout: 1000 });
   * console.log(type, data.length); // 2 5
   * ```
   *
   * @param options `type` (and `except`), `timeout` (ms) and `signal`.
   * @returns The message and its type.
   * @throws {RangeError} For a type that is not an integer.
   * @throws {IpcError} `EIDRM` (also when removed while waiting), `EACCES`,
   *   `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async receive(options: SysvReceiveOptions = {}): Promise<SysvMessage> {
    this.#check("msgrcv");
    return await this.#receiveWaiting(
      options,
      (type, flags) => this.#receiveCopy(type, flags),
    );
  }

  /**
   * Receives a message of the selected type if one is queued.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.sendSync(1, "one");
   * console.log(q.tryReceive({ type: 2 })); // undefined
   * console.log(q.tryReceive()?.type); // 1
   * ```
   *
   * @param options `type` and `except`.
   * @returns The message, or `undefined` when none matches.
   * @throws {RangeError} For a type that is not an integer.
   * @throws {IpcError} `EIDRM`, `EACCES`, `EBADF`.
   */
  tryReceive(options: SysvSelectOptions = {}): SysvMessage | undefined {
    this.#check("msgrcv");
    const [type, flags] = receiveFlags(options);
    return this.#receiveCopy(type, flags | IPC_NOWAIT);
  }

  /** The checks of the receives into a buffer: the handle, then `buffer`. */
  #checkInto(buffer: Uint8Array): void {
    this.#check("msgrcv");
    if (!(buffer instanceof Uint8Array)) {
      throw new TypeError("The receive buffer must be a Uint8Array");
    }
  }

  /**
   * Receives a message into `buffer`, blocking the thread (and the event
   * loop) as {@linkcode SysvMessageQueue.receiveSync} does. Allocates
   * nothing. A matching message longer than the buffer stays in the queue
   * and the call fails with `E2BIG`; a buffer of /proc/sys/kernel/msgmax
   * bytes fits any message.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.sendSync(9, "abc");
   * const buffer = new Uint8Array(8192);
   * const { type, length } = q.receiveIntoSync(buffer);
   * console.log(type, length); // 9 3
   * ```
   *
   * @param buffer Where the message text goes.
   * @param options `type`, `except`, and `timeout` in ms.
   * @returns The message's type and length.
   * @throws {IpcError} `E2BIG` (the message is longer than the buffer),
   *   `EIDRM`, `EACCES`, `EBADF`.
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveIntoSync(
    buffer: Uint8Array,
    options: SysvReceiveSyncOptions = {},
  ): SysvReceivedInto {
    this.#checkInto(buffer);
    return this.#receiveWaitingSync(
      options,
      (type, flags) => this.#receiveInto(buffer, type, flags),
    );
  }

  /**
   * Receives a message into `buffer` without blocking the event loop.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * setTimeout(() => q.sendSync(1, "later"), 10);
   * const buffer = new Uint8Array(64);
   * const { length } = await q.receiveInto(buffer, { timeout: 1000 });
   * console.log(length); // 5
   * ```
   *
   * @param buffer Where the message text goes.
   * @param options `type`, `except`, `timeout` (ms) and `signal`.
   * @returns The message's type and length.
   * @throws {IpcError} `E2BIG`, `EIDRM`, `EACCES`, `EBADF`.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  receiveInto(
    buffer: Uint8Array,
    options: SysvReceiveOptions = {},
  ): Promise<SysvReceivedInto> {
    this.#checkInto(buffer);
    return this.#receiveWaiting(
      options,
      (type, flags) => this.#receiveInto(buffer, type, flags),
    );
  }

  /**
   * Receives a message into `buffer` if one of the selected type is queued.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * console.log(q.tryReceiveInto(new Uint8Array(64))); // undefined
   * ```
   *
   * @param buffer Where the message text goes.
   * @param options `type` and `except`.
   * @returns Type and length, or `undefined` when none matches.
   * @throws {IpcError} `E2BIG`, `EIDRM`, `EACCES`, `EBADF`.
   */
  tryReceiveInto(
    buffer: Uint8Array,
    options: SysvSelectOptions = {},
  ): SysvReceivedInto | undefined {
    this.#checkInto(buffer);
    const [type, flags] = receiveFlags(options);
    return this.#receiveInto(buffer, type, flags | IPC_NOWAIT);
  }

  /**
   * Receives messages of the selected type as they come, until the handle
   * is closed or `signal` aborts.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.temporary();
   * q.sendSync(1, "one");
   * q.sendSync(1, "two");
   * for await (const message of q.messages({ type: 1 })) {
   *   console.log(new TextDecoder().decode(message.data));
   *   if (q.attributes.currentMessages === 0) break;
   * }
   * ```
   *
   * @param options `type`, `except`, and `signal`, which ends the
   *   iteration with the signal's reason.
   * @returns An async iterator of messages.
   */
  async *messages(
    options: Omit<SysvReceiveOptions, "timeout"> = {},
  ): AsyncGenerator<SysvMessage, void, undefined> {
    while (!this.#closed) {
      try {
        yield await this.receive(options);
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
    }
  }

  /**
   * `for await (const message of queue)`:
   * {@linkcode SysvMessageQueue.messages} without options.
   *
   * @returns An async iterator of messages.
   */
  [Symbol.asyncIterator](): AsyncIterator<SysvMessage> {
    return this.messages();
  }

  /**
   * Removes the queue at once (msgctl(2) `IPC_RMID`), for every process:
   * queued messages are lost, and waiting senders and receivers fail with
   * `EIDRM` (this handle's async waiters at once). The handle stays open;
   * further calls fail with `EIDRM`.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = SysvMessageQueue.private();
   * q.remove();
   * ```
   *
   * @throws {IpcError} `EIDRM` (already removed), `EPERM` (not the owner or
   *   creator), `EBADF` (closed).
   */
  remove(): void {
    this.#check("msgctl");
    try {
      this.#ctl(IPC_RMID, null, "remove");
    } finally {
      this.#wakeAll();
    }
  }

  /**
   * Makes the handle unusable; pending waits reject with `EBADF`. A System
   * V queue is not a descriptor, so nothing is released and the queue
   * stays, except for a {@linkcode SysvMessageQueue.temporary} queue,
   * which is removed now. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { SysvMessageQueue } from "@ipckit/ipc/mq";
   *
   * const q = SysvMessageQueue.temporary();
   * q.close();
   * q.close(); // no-op
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#removeOnClose) libc().msgctl(this.#id, IPC_RMID, null);
    this.#wakeAll();
  }

  /** Same as {@linkcode SysvMessageQueue.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
