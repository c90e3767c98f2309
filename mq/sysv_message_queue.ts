import {
  checkBoolean,
  checkInteger,
  checkOptions,
  checkSysvId,
  checkSysvKey,
  describeValue,
  errno,
  Handle,
  IPC_PRIVATE,
  IpcError,
  libc,
  parkWithBackoff,
  parkWithBackoffSync,
  removeAtExit,
  sys,
  sysvKeyFromPath,
  sysvLabel,
  toBytes,
  toWritableBytes,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import {
  checkAccess,
  checkQueueMode,
  checkWaitOptions,
  checkWaitSyncOptions,
} from "./_options.ts";

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
const WHAT = "System V message queue";

/** Options for {@linkcode SysvMessageQueue.open}. */
export interface SysvMessageQueueOptions {
  /**
   * Create the queue if no queue has this key (`IPC_CREAT`).
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * With `create`, fail with `EEXIST` if a queue has this key (`IPC_EXCL`).
   * @default {false}
   */
  exclusive?: boolean | undefined;
  /**
   * Permission bits (`0o777` at most) of a new queue; the umask does not
   * apply to System V objects. With `create`, msgget(2) also checks these
   * bits against an existing queue's mode, as the access asked for.
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * Without `create`: the access msgget(2) checks against the queue's mode,
   * so a queue this user may not use fails at once with `EACCES` (the
   * kernel checks again on every send and receive).
   * @default {"read-write"}
   */
  access?: "read" | "write" | "read-write" | undefined;
}

/** Options for {@linkcode SysvMessageQueue.private} and `temporary`. */
export interface SysvPrivateQueueOptions {
  /**
   * Permission bits (`0o777` at most) of the new queue.
   * @default {0o600}
   */
  mode?: number | undefined;
}

/** Options for receiving: which message to take, and how long to wait. */
export interface SysvReceiveOptions extends WaitOptions {
  /**
   * Which message to take, as msgrcv(2)'s `msgtyp`: `0` the first message
   * in the queue, `n > 0` the first message of type `n`, `n < 0` the first
   * message of the lowest type that is at most `|n|`.
   * @default {0}
   */
  type?: number | undefined;
  /**
   * With a positive `type`: take the first message whose type is *not*
   * `type` (`MSG_EXCEPT`).
   * @default {false}
   */
  except?: boolean | undefined;
}

/** Options for the receive forms that do not wait. */
export type SysvSelectOptions = Pick<SysvReceiveOptions, "type" | "except">;

/** Options for the blocking (`Sync`) receive forms. */
export interface SysvReceiveSyncOptions extends WaitSyncOptions {
  /**
   * Which message to take, as msgrcv(2)'s `msgtyp` (see
   * {@linkcode SysvReceiveOptions.type}).
   * @default {0}
   */
  type?: number | undefined;
  /**
   * With a positive `type`: take the first message whose type is *not*
   * `type` (`MSG_EXCEPT`).
   * @default {false}
   */
  except?: boolean | undefined;
}

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
  maxBytes?: number | undefined;
  /**
   * New permission bits (`0o777` at most).
   * @default {unchanged}
   */
  mode?: number | undefined;
  /**
   * New owner user id.
   * @default {unchanged}
   */
  uid?: number | undefined;
  /**
   * New owner group id.
   * @default {unchanged}
   */
  gid?: number | undefined;
}

/** A number argument: TypeError for any other type (RangeError comes after). */
function checkNumber(value: unknown, name: string): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number, got ${describeValue(value)}`,
    );
  }
  return value;
}

function checkSendType(type: unknown): number {
  if (
    typeof checkNumber(type, "type") !== "number" ||
    !Number.isSafeInteger(type) || (type as number) <= 0
  ) {
    throw new RangeError(
      `A message type must be a positive integer (up to 2^53-1), got ${
        String(type)
      }`,
    );
  }
  return type as number;
}

function receiveFlags(options: SysvSelectOptions): [number, number] {
  const type = options.type === undefined
    ? 0
    : checkNumber(options.type, "type");
  const except = checkBoolean(options.except, "except", false);
  if (!Number.isSafeInteger(type)) {
    throw new RangeError(
      `The type to receive must be an integer (|type| up to 2^53-1), got ${type}`,
    );
  }
  if (except && type <= 0) {
    throw new RangeError(
      `except needs a positive type to exclude, got ${type}`,
    );
  }
  return [type, except ? MSG_EXCEPT : 0];
}

/** The largest message the kernel accepts now (`msgmax`), from IPC_INFO. */
function readMsgmax(): number {
  const info = new Int32Array(8); // struct msginfo: msgmax is the third int
  const r = libc().msgctl(0, IPC_INFO, info);
  const msgmax = info[2]!;
  return r === -1 || msgmax <= 0 ? DEFAULT_MSGMAX : msgmax;
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
export class SysvMessageQueue extends Handle
  implements AsyncIterable<SysvMessage> {
  /**
   * The queue's key as an unsigned 32-bit number, or 0 for a private queue
   * (`IPC_PRIVATE`).
   */
  readonly key: number;
  #id: number;
  #removed = false;
  #removeOnClose: boolean;
  #label: string;
  #what: string;
  /** Aborts when the handle closes or the queue is removed through it. */
  #stop = new AbortController();
  #msgmax: number;
  #send!: Uint8Array;
  #sendWords!: Uint32Array;
  #receive!: Uint8Array;
  #receiveWords!: Uint32Array;
  #stat = new BigInt64Array(15); // struct msqid_ds, 120 bytes
  /** Forgets the removal at exit of a temporary queue. */
  #forgetAtExit: (() => void) | undefined;

  private constructor(id: number, key: number, removeOnClose: boolean) {
    const label = sysvLabel(key, id);
    super(WHAT, label);
    this.#id = id;
    this.key = key >>> 0;
    this.#removeOnClose = removeOnClose;
    this.#label = label;
    this.#what = `${WHAT} "${label}"`;
    this.#msgmax = readMsgmax();
    this.#growSend(this.#msgmax);
    this.#growReceive(this.#msgmax);
    if (removeOnClose) {
      this.#forgetAtExit = removeAtExit(() =>
        libc().msgctl(id, IPC_RMID, null)
      );
    }
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
   * @throws {TypeError} For a key or an option of the wrong type.
   * @throws {RangeError} For a key that is 0 or not a 32-bit integer, or a
   *   bad mode.
   * @throws {IpcError} `ENOENT` (no such key, no `create`), `EEXIST`
   *   (`exclusive`), `EACCES`, `ENOSPC` (msgmni reached).
   */
  static open(
    key: number,
    options?: SysvMessageQueueOptions,
  ): SysvMessageQueue {
    const k = checkSysvKey(
      checkNumber(key, "key"),
      "SysvMessageQueue.private()",
    );
    const o = checkOptions(options);
    const create = checkBoolean(o.create, "create", false);
    const exclusive = checkBoolean(o.exclusive, "exclusive", false);
    const mode = checkQueueMode(o.mode);
    const accessBits = { read: 0o400, write: 0o200, "read-write": 0o600 }[
      checkAccess(o.access)
    ];
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
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a bad mode.
   * @throws {IpcError} `ENOSPC` (msgmni reached).
   */
  static private(options?: SysvPrivateQueueOptions): SysvMessageQueue {
    return SysvMessageQueue.#private(options, false);
  }

  /**
   * Creates a private queue that is removed when the handle closes: the
   * System V counterpart of a temporary file. It is removed
   * when the process ends without closing it too: at its normal end, on
   * `process.exit()`, an uncaught error, or SIGINT/SIGTERM/SIGHUP that the
   * program does not handle itself (see ffi's `removeAtExit()`). SIGKILL
   * leaves it behind: `ipckit ls` lists such objects, `ipckit rm` removes
   * them.
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
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a bad mode.
   * @throws {IpcError} `ENOSPC` (msgmni reached).
   */
  static temporary(options?: SysvPrivateQueueOptions): SysvMessageQueue {
    return SysvMessageQueue.#private(options, true);
  }

  static #private(
    options: SysvPrivateQueueOptions | undefined,
    removeOnClose: boolean,
  ): SysvMessageQueue {
    const mode = checkQueueMode(checkOptions(options).mode);
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
   * @throws {TypeError} For an id that is not a number.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {IpcError} `EINVAL` (no queue has this id), `EACCES`.
   */
  static fromId(id: number): SysvMessageQueue {
    checkSysvId(checkNumber(id, "id"), "queue");
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
    return new SysvMessageQueue(id, new Int32Array(stat.buffer)[0]!, false);
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
   * @throws {TypeError} For an id that is not a number.
   * @throws {RangeError} For an id that is not a non-negative 32-bit integer.
   * @throws {IpcError} `EINVAL` (no queue has this id: already removed?),
   *   `EPERM`.
   */
  static remove(id: number): void {
    checkSysvId(checkNumber(id, "id"), "queue");
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
   * same key; different files may collide. The file is stat'ed through
   * libc, so Deno needs only `--allow-ffi` here too.
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
   * @throws {TypeError} For a path that is not a non-empty string (or holds
   *   a NUL), or a project number that is not a number.
   * @throws {RangeError} For a project number outside 1..255.
   * @throws {IpcError} When the file cannot be stat'ed (`ENOENT`,
   *   `EACCES`, ...).
   */
  static keyFromPath(path: string, projectId: number): number {
    return sysvKeyFromPath(path, projectId);
  }

  /**
   * The queue id (`msqid`), the handle every process uses.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get id(): number {
    return this.#check("msgctl");
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
      key: words[0]! >>> 0,
      uid: words[1]! >>> 0,
      gid: words[2]! >>> 0,
      mode: words[5]! & 0o777,
      lastSendTime: time(s[6]!),
      lastReceiveTime: time(s[7]!),
      changeTime: new Date(Number(s[8]) * 1000),
      currentBytes: Number(s[9]),
      currentMessages: Number(s[10]),
      maxBytes: Number(s[11]),
      lastSendPid: words[24]!,
      lastReceivePid: words[25]!,
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
   * @throws {TypeError} For `changes` or a field of the wrong type.
   * @throws {RangeError} For a value that is not an integer in range
   *   (0 to 2^32-1; `mode` 0 to 0o777).
   * @throws {IpcError} `EPERM` (not the owner, or `maxBytes` above msgmnb
   *   without `CAP_SYS_RESOURCE`), `EIDRM`, `EBADF` (closed).
   */
  setAttributes(changes: SysvMessageQueueChanges): void {
    this.#check("msgctl");
    const c = checkOptions(changes, "changes");
    const field = (value: unknown, name: string) =>
      value === undefined
        ? undefined
        : checkInteger(value, name, 0, 2 ** 32 - 1);
    const maxBytes = field(c.maxBytes, "maxBytes");
    const uid = field(c.uid, "uid");
    const gid = field(c.gid, "gid");
    const mode = c.mode === undefined ? undefined : checkQueueMode(c.mode);
    const s = this.#readStat("change attributes of");
    const words = new Uint32Array(s.buffer);
    if (uid !== undefined) words[1] = uid;
    if (gid !== undefined) words[2] = gid;
    if (mode !== undefined) words[5] = (words[5]! & ~0o777) | mode;
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
    this.checkOpen(syscall);
    return this.#id;
  }

  /** After a wake-up: closed (`EBADF`), or removed through this handle. */
  #checkWaiting(syscall: string): void {
    this.checkOpen(syscall);
    if (this.#removed) {
      throw this.#error(EIDRM, syscall, `use ${WHAT}`);
    }
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

  /** A payload's bytes, checked against msgmax before any syscall. */
  #message(data: unknown): Uint8Array {
    const bytes = toBytes(data, "data");
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
    return bytes;
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
        return { type: w[1]! * 2 ** 32 + w[0]!, length: n };
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

  /**
   * Waits, blocking the thread, until `attempt` (a call with IPC_NOWAIT)
   * succeeds: pauses of 0.1 to 5 ms in between, as no poll(2) can wait for
   * a System V queue. `firstPark` runs once, before the first pause.
   */
  #waitSync<T>(
    attempt: () => T | undefined,
    syscall: string,
    timeout: number | undefined,
    firstPark?: () => void,
  ): T {
    return waitUntilSync({
      attempt,
      park: parkWithBackoffSync(),
      enter: firstPark,
      check: () => this.#checkWaiting(syscall),
      what: this.#what,
    }, { timeout });
  }

  /**
   * Waits, keeping the event loop free, until `attempt` (a call with
   * IPC_NOWAIT) succeeds: timers of 0.1 to 5 ms in between. `close()` and
   * `remove()` stop the wait at once.
   */
  #wait<T>(
    attempt: () => T | undefined,
    syscall: string,
    options: { timeout: number | undefined; signal: AbortSignal | undefined },
    firstPark?: () => void,
  ): Promise<T> {
    return waitUntil({
      attempt,
      park: parkWithBackoff(),
      enter: firstPark,
      check: () => this.#checkWaiting(syscall),
      what: this.#what,
      closing: this.#stop.signal,
    }, options);
  }

  /**
   * A blocking receive through `attempt` with the selected type: one
   * waiting msgrcv without `timeout`, else `attempt` retried with IPC_NOWAIT.
   */
  #receiveWaitingSync<T>(
    options: SysvReceiveSyncOptions | undefined,
    attempt: (type: number, flags: number) => T | undefined,
  ): T {
    const o = checkOptions(options);
    const [type, flags] = receiveFlags(o);
    const timeout = checkWaitSyncOptions(o);
    if (timeout === undefined) return attempt(type, flags)!;
    return this.#waitSync(
      () => attempt(type, flags | IPC_NOWAIT),
      "msgrcv",
      timeout,
    );
  }

  /** A receive through `attempt` that keeps the event loop free. */
  #receiveWaiting<T>(
    options: SysvReceiveOptions | undefined,
    attempt: (type: number, flags: number) => T | undefined,
  ): Promise<T> {
    const o = checkOptions(options);
    const [type, flags] = receiveFlags(o);
    return this.#wait(
      () => attempt(type, flags | IPC_NOWAIT),
      "msgrcv",
      checkWaitOptions(o),
    );
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
   * @param data The message: a string (sent as UTF-8), an `ArrayBuffer`, or
   *   any `ArrayBufferView`, every byte of it.
   * @param options `timeout` in ms (monotonic clock; no limit by default).
   * @throws {TypeError} For a type, data or an option of the wrong type.
   * @throws {RangeError} For a type that is not a positive integer, or a
   *   bad timeout.
   * @throws {IpcError} `EMSGSIZE` (larger than msgmax or the queue's
   *   `maxBytes`), `EIDRM` (removed), `EACCES`, `EBADF` (closed).
   * @throws {DOMException} `TimeoutError` when the queue stayed full.
   */
  sendSync(
    type: number,
    data: string | ArrayBufferView | ArrayBuffer,
    options?: WaitSyncOptions,
  ): void {
    this.#check("msgsnd");
    const t = checkSendType(type);
    const bytes = this.#message(data);
    const timeout = checkWaitSyncOptions(options);
    if (timeout === undefined) {
      // No deadline: msgsnd(2) itself waits, unless it could never fit.
      if (this.#sendOnce(t, bytes, IPC_NOWAIT)) return;
      this.#checkFits(bytes.length);
      this.#sendOnce(t, bytes, 0);
      return;
    }
    this.#waitSync(
      () => this.#sendOnce(t, bytes, IPC_NOWAIT) || undefined,
      "msgsnd",
      timeout,
      () => this.#checkFits(bytes.length),
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
   * @param data The message: a string (sent as UTF-8), an `ArrayBuffer`, or
   *   any `ArrayBufferView`, every byte of it.
   * @param options `timeout` (ms) and `signal`.
   * @returns A promise that resolves once the message is in the queue.
   * @throws {TypeError} For a type, data or an option of the wrong type.
   * @throws {RangeError} For a type that is not a positive integer, or a
   *   bad timeout.
   * @throws {IpcError} `EMSGSIZE`, `EIDRM` (also when removed while
   *   waiting), `EACCES`, `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async send(
    type: number,
    data: string | ArrayBufferView | ArrayBuffer,
    options?: WaitOptions,
  ): Promise<void> {
    this.#check("msgsnd");
    const t = checkSendType(type);
    const bytes = this.#message(data);
    await this.#wait(
      () => this.#sendOnce(t, bytes, IPC_NOWAIT) || undefined,
      "msgsnd",
      checkWaitOptions(options),
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
   * @param data The message: a string (sent as UTF-8), an `ArrayBuffer`, or
   *   any `ArrayBufferView`, every byte of it.
   * @returns `true` when sent, `false` when the queue is full.
   * @throws {TypeError} For a type or data of the wrong type.
   * @throws {RangeError} For a type that is not a positive integer.
   * @throws {IpcError} `EMSGSIZE` (larger than msgmax), `EIDRM`, `EACCES`,
   *   `EBADF`.
   */
  trySend(type: number, data: string | ArrayBufferView | ArrayBuffer): boolean {
    this.#check("msgsnd");
    const t = checkSendType(type);
    return this.#sendOnce(t, this.#message(data), IPC_NOWAIT);
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
   *   `timeout` in ms (monotonic clock; no limit by default).
   * @returns The message and its type.
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer, or a bad
   *   timeout.
   * @throws {IpcError} `EIDRM` (removed, also while blocked), `EACCES`,
   *   `EBADF` (closed).
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveSync(options?: SysvReceiveSyncOptions): SysvMessage {
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
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer, or a bad
   *   timeout.
   * @throws {IpcError} `EIDRM` (also when removed while waiting), `EACCES`,
   *   `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async receive(options?: SysvReceiveOptions): Promise<SysvMessage> {
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
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer.
   * @throws {IpcError} `EIDRM`, `EACCES`, `EBADF`.
   */
  tryReceive(options?: SysvSelectOptions): SysvMessage | undefined {
    this.#check("msgrcv");
    const [type, flags] = receiveFlags(checkOptions(options));
    return this.#receiveCopy(type, flags | IPC_NOWAIT);
  }

  /** The checks of the receives into a buffer: the handle, then `buffer`. */
  #checkInto(buffer: unknown): Uint8Array {
    this.#check("msgrcv");
    return toWritableBytes(buffer, "buffer");
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
   * @param buffer Where the message text goes: any `ArrayBufferView` or
   *   `ArrayBuffer`.
   * @param options `type`, `except`, and `timeout` in ms.
   * @returns The message's type and length.
   * @throws {TypeError} For a buffer or an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer, or a bad
   *   timeout.
   * @throws {IpcError} `E2BIG` (the message is longer than the buffer),
   *   `EIDRM`, `EACCES`, `EBADF`.
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveIntoSync(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: SysvReceiveSyncOptions,
  ): SysvReceivedInto {
    const bytes = this.#checkInto(buffer);
    return this.#receiveWaitingSync(
      options,
      (type, flags) => this.#receiveInto(bytes, type, flags),
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
   * @param buffer Where the message text goes: any `ArrayBufferView` or
   *   `ArrayBuffer`.
   * @param options `type`, `except`, `timeout` (ms) and `signal`.
   * @returns The message's type and length.
   * @throws {TypeError} For a buffer or an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer, or a bad
   *   timeout.
   * @throws {IpcError} `E2BIG`, `EIDRM`, `EACCES`, `EBADF` (also when
   *   closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async receiveInto(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: SysvReceiveOptions,
  ): Promise<SysvReceivedInto> {
    const bytes = this.#checkInto(buffer);
    return await this.#receiveWaiting(
      options,
      (type, flags) => this.#receiveInto(bytes, type, flags),
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
   * @param buffer Where the message text goes: any `ArrayBufferView` or
   *   `ArrayBuffer`.
   * @param options `type` and `except`.
   * @returns Type and length, or `undefined` when none matches.
   * @throws {TypeError} For a buffer or an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer.
   * @throws {IpcError} `E2BIG`, `EIDRM`, `EACCES`, `EBADF`.
   */
  tryReceiveInto(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: SysvSelectOptions,
  ): SysvReceivedInto | undefined {
    const bytes = this.#checkInto(buffer);
    const [type, flags] = receiveFlags(checkOptions(options));
    return this.#receiveInto(bytes, type, flags | IPC_NOWAIT);
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
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a type that is not an integer.
   */
  async *messages(
    options?: Omit<SysvReceiveOptions, "timeout">,
  ): AsyncGenerator<SysvMessage, void, undefined> {
    const o = checkOptions(options);
    const { signal } = checkWaitOptions({ signal: o.signal });
    receiveFlags(o);
    const select = { type: o.type, except: o.except, signal };
    while (!this.closed) {
      try {
        yield await this.receive(select);
      } catch (error) {
        if (this.closed) return;
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
    } catch (error) {
      if (error instanceof IpcError && error.code === "EIDRM") this.#gone();
      throw error;
    }
    this.#gone();
  }

  /** The queue was removed: pending and later waits fail with `EIDRM`. */
  #gone(): void {
    this.#removed = true;
    this.#stop.abort();
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
  override close(): void {
    super.close();
  }

  /** Stops pending waits; removes a temporary queue. */
  protected release(): void {
    this.#stop.abort(); // pending waits wake and fail with EBADF
    if (this.#removeOnClose) {
      this.#forgetAtExit?.();
      libc().msgctl(this.#id, IPC_RMID, null);
    }
  }
}
