import {
  checkBoolean,
  checkInteger,
  checkOptions,
  checkSpin,
  cString,
  describeValue,
  DescriptorHandle,
  IpcError,
  type IpcErrorOptions,
  libc,
  type Park,
  parkOnDescriptor,
  parkOnDescriptorSync,
  type ParkSync,
  pollDescriptorSync,
  type Readiness,
  removeAtExit,
  retryAfterFailure,
  sys,
  toBytes,
  toWritableBytes,
  trySys,
  validatePosixName,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import { openFailureHint, readQueueLimits } from "./_limits.ts";
import {
  checkAccess,
  checkQueueMode,
  checkWaitOptions,
  checkWaitSyncOptions,
} from "./_options.ts";

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const MQ_PRIO_MAX = 32768;
/** The largest limit passed on to mq_open (the kernel's hard limits are far below). */
const MAX_LIMIT = 0x7fffffff;
/** Microseconds the async forms retry before parking, by default. */
const DEFAULT_SPIN = 50;
const ACCESS_FLAGS = { read: O_RDONLY, write: O_WRONLY, "read-write": O_RDWR };

/** Options for {@linkcode MessageQueue.open}. */
export interface MessageQueueOptions {
  /**
   * Create the queue if it does not exist (`O_CREAT`).
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * With `create`, fail with `EEXIST` if the queue exists (`O_EXCL`).
   * @default {false}
   */
  exclusive?: boolean | undefined;
  /**
   * Permission bits (`0o777` at most) for a new queue, before the umask.
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * Capacity in messages of a new queue (`mq_maxmsg`); unprivileged users
   * may ask at most `/proc/sys/fs/mqueue/msg_max`.
   * @default {/proc/sys/fs/mqueue/msg_default}
   */
  maxMessages?: number | undefined;
  /**
   * Largest message in bytes of a new queue (`mq_msgsize`); unprivileged
   * users may ask at most `/proc/sys/fs/mqueue/msgsize_max`.
   * @default {/proc/sys/fs/mqueue/msgsize_default}
   */
  messageSize?: number | undefined;
  /**
   * With `create` (without `exclusive`) and `maxMessages` or `messageSize`:
   * what to do when the queue already exists with other limits (the kernel
   * keeps a queue's limits for its life). `"exact"` fails with `EEXIST`,
   * naming both; `"any"` opens it as it is (read its limits from
   * {@linkcode MessageQueue.maxMessages} and
   * {@linkcode MessageQueue.messageSize}).
   * @default {"exact"}
   */
  limits?: "exact" | "any" | undefined;
  /**
   * Which directions this handle may use.
   * @default {"read-write"}
   */
  access?: "read" | "write" | "read-write" | undefined;
  /**
   * Microseconds (0 to 1,000,000) that `send()`/`receive()` retry on the
   * spot before parking on the reactor thread, which costs a thread wake-up
   * (tens of µs). Spins only when the process may run on more than one CPU.
   * 0 turns it off.
   * @default {50}
   */
  spin?: number | undefined;
}

/** Options for {@linkcode MessageQueue.sendSync}. */
export interface SendSyncOptions extends WaitSyncOptions {
  /**
   * Priority, 0 to 32767; higher priorities are received first.
   * @default {0}
   */
  priority?: number | undefined;
}

/** Options for {@linkcode MessageQueue.send}. */
export interface SendOptions extends WaitOptions {
  /**
   * Priority, 0 to 32767; higher priorities are received first.
   * @default {0}
   */
  priority?: number | undefined;
}

/** A received message. */
export interface ReceivedMessage {
  /** The message bytes (a copy the caller owns). */
  data: Uint8Array;
  /** The priority it was sent with. */
  priority: number;
}

/** The result of receiving into a caller's buffer. */
export interface ReceivedInto {
  /** How many bytes of the buffer hold the message. */
  length: number;
  /** The priority it was sent with. */
  priority: number;
}

/** A queue's attributes (`mq_getattr`). */
export interface MessageQueueAttributes {
  /** Capacity in messages. */
  maxMessages: number;
  /** Largest message in bytes. */
  messageSize: number;
  /** Messages in the queue right now. */
  currentMessages: number;
}

/** Options for a temporary queue: those of `open` less the creation flags. */
export type TemporaryQueueOptions = Omit<
  MessageQueueOptions,
  "create" | "exclusive" | "limits"
>;

/** The `limits` option: whether an existing queue's limits must match. */
function checkLimitsOption(value: unknown): boolean {
  if (value === undefined || value === "exact") return true;
  if (value === "any") return false;
  throw new TypeError(
    `limits must be "exact" or "any", got ${describeValue(value)}`,
  );
}

function checkLimit(value: unknown, name: string): number | undefined {
  return value === undefined
    ? undefined
    : checkInteger(value, name, 1, MAX_LIMIT);
}

function checkPriority(value: unknown): number {
  return value === undefined
    ? 0
    : checkInteger(value, "priority", 0, MQ_PRIO_MAX - 1);
}

/**
 * A POSIX message queue (mq_overview(7)): a named, kernel-held queue of
 * discrete messages with priorities, shared by any processes that open the
 * same name. Messages of higher priority are received first; equal
 * priorities arrive in the order sent. Any number of senders and receivers,
 * in any processes, may share a queue: each message goes to exactly one
 * receiver.
 *
 * Closing is not removing: a queue lives until {@linkcode MessageQueue.unlink}
 * (or reboot). Every blocking operation comes three ways: `xSync()` blocks
 * the thread (fastest), `x()` returns a promise and never blocks the event
 * loop (with `timeout` and `signal`), `tryX()` returns at once.
 *
 * ipckit never changes the mode of an open description (mq_setattr(3)),
 * which a forked child or a process that received the descriptor would
 * share. The handle's descriptor ({@linkcode MessageQueue.fd}) is opened
 * `O_NONBLOCK` and stays so: the `tryX()` and async forms use it, and so
 * do the `Sync` forms with a `timeout` (poll(2) on the monotonic clock,
 * then the non-blocking call). The `Sync` forms without a `timeout` block
 * in the kernel on a second description of the same queue, opened
 * (blocking, for good) on their first use by reopening the first through
 * `/proc/self/fd`, so they cost what a blocking mq_send(3)/mq_receive(3)
 * costs. There is no `setNonBlocking()`: the `tryX()` forms are the
 * non-blocking calls.
 *
 * @example Two ends of one queue
 * ```ts
 * import { MessageQueue } from "@ipckit/ipc/mq";
 *
 * using q = MessageQueue.temporary({ maxMessages: 8, messageSize: 256 });
 * q.sendSync("low", { priority: 1 });
 * q.sendSync("high", { priority: 9 });
 * const first = await q.receive({ timeout: 1000 });
 * console.log(new TextDecoder().decode(first.data), first.priority); // high 9
 * ```
 */
export class MessageQueue extends DescriptorHandle
  implements AsyncIterable<ReceivedMessage> {
  /** The queue's name, such as `"/jobs"`. */
  readonly name: string;
  /** Largest message in bytes; receive buffers need at least this many. */
  readonly messageSize: number;
  /** Capacity in messages. */
  readonly maxMessages: number;
  #unlinkOnClose: boolean;
  /** Forgets the removal at exit of a temporary queue. */
  #forgetAtExit: (() => void) | undefined;
  #accessFlag: number;
  /**
   * A second open description of the queue, always blocking, for the Sync
   * forms without a timeout: made on first use, -1 when it cannot be.
   */
  #blocking: number | undefined;
  #spin: number;
  #what: string;
  #scratch: Uint8Array;
  #priority = new Uint32Array(1);
  #attr = new BigInt64Array(8);
  // Made once, not per call: what a failure reports, and the parks.
  #sendFailure: IpcErrorOptions;
  #receiveFailure: IpcErrorOptions;
  #parkRead: Park;
  #parkWrite: Park;
  #parkReadSync: ParkSync;
  #parkWriteSync: ParkSync;
  #checkSend = () => this.checkOpen("mq_send");
  #checkReceive = () => this.checkOpen("mq_receive");
  #checkPoll = () => this.checkOpen("poll");

  private constructor(
    name: string,
    fd: number,
    accessFlag: number,
    unlinkOnClose: boolean,
    spin: number,
  ) {
    super(fd, "message queue", name);
    this.name = name;
    this.#accessFlag = accessFlag;
    this.#what = `message queue "${name}"`;
    // A handle of one direction fails the other with a bare EBADF from the
    // kernel (the only error it can get then): say why.
    this.#sendFailure = {
      syscall: "mq_send",
      path: name,
      action: "send to message queue",
      hint: accessFlag === O_RDONLY
        ? 'The queue was opened with access: "read"; open it with access "write" or "read-write" to send'
        : undefined,
    };
    this.#receiveFailure = {
      syscall: "mq_receive",
      path: name,
      action: "receive from message queue",
      hint: accessFlag === O_WRONLY
        ? 'The queue was opened with access: "write"; open it with access "read" or "read-write" to receive'
        : undefined,
    };
    this.#unlinkOnClose = unlinkOnClose;
    this.#spin = spin;
    this.#parkRead = parkOnDescriptor(() => this.descriptor("poll"), "read");
    this.#parkWrite = parkOnDescriptor(() => this.descriptor("poll"), "write");
    this.#parkReadSync = parkOnDescriptorSync(fd, "read");
    this.#parkWriteSync = parkOnDescriptorSync(fd, "write");
    const a = this.#getattr(fd);
    this.maxMessages = a.maxMessages;
    this.messageSize = a.messageSize;
    this.#scratch = new Uint8Array(this.messageSize);
    if (unlinkOnClose) {
      const cname = validatePosixName(name, "message queue");
      this.#forgetAtExit = removeAtExit(() => libc().mq_unlink(cname));
    }
  }

  /**
   * Opens (and with `create`, creates) a queue. See mq_open(3). Closing is
   * not removing: a created queue outlives this process until
   * {@linkcode MessageQueue.unlink}.
   *
   * @example Creating a queue for jobs
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.open("/ipckit_doc_jobs", { create: true, maxMessages: 10, messageSize: 1024 });
   * q.sendSync("job 1");
   * MessageQueue.unlink("/ipckit_doc_jobs");
   * ```
   *
   * @example An existing queue keeps its limits
   * ```ts
   * import { IpcError, MessageQueue } from "@ipckit/ipc/mq";
   *
   * const name = "/ipckit_doc_limits";
   * using a = MessageQueue.open(name, { create: true, maxMessages: 4 });
   * try {
   *   MessageQueue.open(name, { create: true, maxMessages: 8 });
   * } catch (e) {
   *   if (e instanceof IpcError) console.log(e.code); // "EEXIST"
   * }
   * using b = MessageQueue.open(name, { create: true, maxMessages: 8, limits: "any" });
   * console.log(b.maxMessages === a.maxMessages); // true (4)
   * MessageQueue.unlink(name);
   * ```
   *
   * @param name One leading `/`, no other `/`, 1 to 255 bytes after it.
   * @param options Creation flags, limits, access and spin.
   * @returns The open queue.
   * @throws {TypeError} For a malformed name (not a string, no leading `/`,
   *   another `/`, a NUL) or an option of the wrong type.
   * @throws {RangeError} For a name too long or empty, or a mode, limit or
   *   spin out of range.
   * @throws {IpcError} `ENOENT` (missing, no `create`), `EEXIST`
   *   (`exclusive`; or `create` with `maxMessages`/`messageSize` other than
   *   the existing queue's, unless `limits: "any"`), `EACCES`, `EINVAL` (limits over msg_max/msgsize_max),
   *   `EMFILE` (RLIMIT_NOFILE or RLIMIT_MSGQUEUE), `ENOSPC` (queues_max); the
   *   message says which limit and how to raise it.
   */
  static open(name: string, options?: MessageQueueOptions): MessageQueue {
    return MessageQueue.#open(name, checkOptions(options), false);
  }

  /**
   * Creates a queue with a random unused name that is unlinked when the
   * handle closes, and
   * when the process ends without closing it too: at its normal end, on
   * `process.exit()`, an uncaught error, or SIGINT/SIGTERM/SIGHUP that the
   * program does not handle itself (see ffi's `removeAtExit()`). SIGKILL
   * leaves it behind: `ipckit ls` lists such objects, `ipckit rm` removes
   * them.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * console.log(q.name.startsWith("/ipckit_")); // true
   * ```
   *
   * @param options Limits, mode, access and spin.
   * @returns The open queue.
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a mode, limit or spin out of range.
   * @throws {IpcError} As {@linkcode MessageQueue.open}.
   */
  static temporary(options?: TemporaryQueueOptions): MessageQueue {
    const name = `/ipckit_${crypto.randomUUID().replaceAll("-", "")}`;
    return MessageQueue.#open(
      name,
      { ...checkOptions(options), create: true, exclusive: true },
      true,
    );
  }

  static #open(
    name: string,
    options: MessageQueueOptions,
    unlinkOnClose: boolean,
  ): MessageQueue {
    const cname = validatePosixName(name, "message queue");
    const create = checkBoolean(options.create, "create", false);
    const exclusive = checkBoolean(options.exclusive, "exclusive", false);
    const mode = checkQueueMode(options.mode);
    const maxMessages = checkLimit(options.maxMessages, "maxMessages");
    const messageSize = checkLimit(options.messageSize, "messageSize");
    const access = checkAccess(options.access);
    const exactLimits = checkLimitsOption(options.limits);
    const spin = checkSpin(options.spin, DEFAULT_SPIN);
    // Non-blocking for good: see the class documentation.
    const accessFlag = ACCESS_FLAGS[access];
    let flags = accessFlag | O_NONBLOCK | O_CLOEXEC;
    if (create) flags |= O_CREAT;
    if (create && exclusive) flags |= O_EXCL;
    let attr: BigInt64Array | null = null;
    if (create && (maxMessages !== undefined || messageSize !== undefined)) {
      // The kernel takes both or neither: fill a missing one with its default.
      const limits = maxMessages === undefined || messageSize === undefined
        ? readDefaults()
        : undefined;
      attr = new BigInt64Array(8);
      attr[1] = BigInt(maxMessages ?? limits!.msgDefault);
      attr[2] = BigInt(messageSize ?? limits!.msgsizeDefault);
    }
    const fd = sys(() => libc().mq_open(cname, flags, mode, attr), {
      syscall: "mq_open",
      path: name,
      action: "open message queue",
    }, (code) => openFailureHint(code, create, maxMessages, messageSize));
    let q: MessageQueue;
    try {
      q = new MessageQueue(name, fd, accessFlag, unlinkOnClose, spin);
    } catch (error) {
      libc().mq_close(fd);
      if (unlinkOnClose) libc().mq_unlink(cname);
      throw error;
    }
    // A queue this call created has exactly the limits asked for (or
    // mq_open failed): other limits mean it existed before.
    if (
      attr !== null && !exclusive && exactLimits &&
      ((maxMessages !== undefined && q.maxMessages !== maxMessages) ||
        (messageSize !== undefined && q.messageSize !== messageSize))
    ) {
      q.close();
      const asked = (n: number | undefined) => n === undefined ? "any" : n;
      throw new IpcError("EEXIST", {
        syscall: "mq_open",
        path: name,
        action: "open message queue",
        hint:
          `The queue exists with maxMessages ${q.maxMessages} and messageSize ${q.messageSize}, not the ${
            asked(maxMessages)
          } and ${
            asked(messageSize)
          } asked for (a queue keeps its limits): pass limits: "any" to open it as it is, or unlink it first`,
      });
    }
    return q;
  }

  /**
   * Removes a queue's name; processes that have it open keep using it until
   * they close it. See mq_unlink(3).
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * MessageQueue.open("/ipckit_doc_gone", { create: true }).close();
   * MessageQueue.unlink("/ipckit_doc_gone");
   * ```
   *
   * @param name The queue's name.
   * @throws {TypeError} For a malformed name.
   * @throws {RangeError} For a name too long or empty.
   * @throws {IpcError} `ENOENT` when no such queue exists, `EACCES`.
   */
  static unlink(name: string): void {
    const cname = validatePosixName(name, "message queue");
    sys(() => libc().mq_unlink(cname), {
      syscall: "mq_unlink",
      path: name,
      action: "unlink message queue",
    });
  }

  /**
   * The raw queue descriptor (`mqd_t`), non-blocking and pollable with
   * epoll/poll. Escape hatch: do not close it or change its mode yourself.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  override get fd(): number {
    return super.fd;
  }

  /**
   * The queue's limits and current message count (`mq_getattr`).
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary({ maxMessages: 4, messageSize: 64 });
   * q.sendSync("x");
   * console.log(q.attributes); // { maxMessages: 4, messageSize: 64, currentMessages: 1 }
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get attributes(): MessageQueueAttributes {
    return this.#getattr(this.descriptor("mq_getattr"));
  }

  #getattr(fd: number): MessageQueueAttributes {
    sys(() => libc().mq_getattr(fd, this.#attr), {
      syscall: "mq_getattr",
      path: this.name,
      action: "read attributes of message queue",
    });
    return {
      maxMessages: Number(this.#attr[1]),
      messageSize: Number(this.#attr[2]),
      currentMessages: Number(this.#attr[3]),
    };
  }

  /** The payload's bytes, checked against `messageSize`. */
  #message(data: unknown): Uint8Array {
    const bytes = toBytes(data, "data");
    if (bytes.length > this.messageSize) {
      throw new IpcError("EMSGSIZE", {
        ...this.#sendFailure,
        hint:
          `The message is ${bytes.length} bytes; the queue's messageSize is ${this.messageSize}`,
      });
    }
    return bytes;
  }

  /** A receive buffer's bytes, checked against `messageSize`. */
  #into(buffer: unknown): Uint8Array {
    const bytes = toWritableBytes(buffer, "buffer");
    if (bytes.length < this.messageSize) {
      throw new RangeError(
        `The receive buffer has ${bytes.length} bytes; the queue's messageSize is ${this.messageSize}`,
      );
    }
    return bytes;
  }

  /** One non-blocking mq_send: `true`, or `undefined` when the queue is full. */
  #trySend(data: Uint8Array, priority: number): true | undefined {
    const fd = this.descriptor("mq_send");
    const r = trySys(
      () => libc().mq_send(fd, data, data.length, priority),
      this.#sendFailure,
    );
    return r === undefined ? undefined : true;
  }

  /** One non-blocking mq_receive into `buffer`, or `undefined` when empty. */
  #tryReceiveInto(buffer: Uint8Array): ReceivedInto | undefined {
    const fd = this.descriptor("mq_receive");
    const n = trySys(
      () => libc().mq_receive(fd, buffer, buffer.length, this.#priority),
      this.#receiveFailure,
    );
    return n === undefined
      ? undefined
      : { length: n, priority: this.#priority[0]! };
  }

  /** One non-blocking receive into a new array the caller owns. */
  #tryReceive(): ReceivedMessage | undefined {
    const got = this.#tryReceiveInto(this.#scratch);
    return got === undefined ? undefined : {
      data: this.#scratch.slice(0, got.length),
      priority: got.priority,
    };
  }

  /**
   * The blocking description for a Sync call without a timeout, or
   * `undefined` (then the call polls). It is a reopening of this handle's
   * own descriptor through /proc/self/fd, so it reaches the same queue even
   * after the name was unlinked; its mode is never changed either.
   */
  #blockingDescriptor(syscall: string): number | undefined {
    if (this.#blocking === undefined) {
      const path = cString(`/proc/self/fd/${this.descriptor(syscall)}`);
      this.#blocking = libc().open(path, this.#accessFlag | O_CLOEXEC, 0);
    }
    return this.#blocking >= 0 ? this.#blocking : undefined;
  }

  /** Waits (blocking the thread) until `attempt` succeeds: poll, then retry. */
  #waitSync<T>(
    attempt: () => T | undefined,
    kind: Readiness,
    timeout: number | undefined,
  ): T {
    return waitUntilSync({
      attempt,
      park: kind === "read" ? this.#parkReadSync : this.#parkWriteSync,
      check: kind === "read" ? this.#checkReceive : this.#checkSend,
      what: this.#what,
    }, { timeout });
  }

  /** Waits (event loop free) until `attempt` succeeds: spin, then the reactor. */
  #wait<T>(
    attempt: () => T | undefined,
    kind: Readiness,
    options: WaitOptions | undefined,
  ): Promise<T> {
    return waitUntil({
      attempt,
      park: kind === "read" ? this.#parkRead : this.#parkWrite,
      check: kind === "read" ? this.#checkReceive : this.#checkSend,
      what: this.#what,
      spin: this.#spin,
      closing: this.closing,
    }, checkWaitOptions(options));
  }

  /**
   * Sends a message, blocking the thread (and the event loop) while the
   * queue is full: in mq_send(3) itself, or with a `timeout` in poll(2) on
   * the monotonic clock.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * q.sendSync(new Uint8Array([1, 2, 3]), { priority: 2 });
   * q.sendSync(new Float64Array([0.5]), { timeout: 100 }); // all 8 bytes
   * ```
   *
   * @param data The message: a string (sent as UTF-8), an `ArrayBuffer`, or
   *   any `ArrayBufferView`, every byte of it.
   * @param options `priority`, and `timeout` in ms (no limit by default).
   * @throws {TypeError} For data or an option of the wrong type.
   * @throws {RangeError} For a priority outside 0..32767 or a bad timeout.
   * @throws {IpcError} `EMSGSIZE` when larger than `messageSize`, `EBADF`
   *   when closed or opened read-only.
   * @throws {DOMException} `TimeoutError` when the queue stayed full.
   */
  sendSync(
    data: string | ArrayBufferView | ArrayBuffer,
    options?: SendSyncOptions,
  ): void {
    this.checkOpen("mq_send");
    const bytes = this.#message(data);
    let priority = 0;
    let timeout: number | undefined;
    if (options !== undefined) {
      priority = checkPriority(checkOptions(options).priority);
      timeout = checkWaitSyncOptions(options);
    }
    const fd = timeout === undefined
      ? this.#blockingDescriptor("mq_send")
      : undefined;
    if (fd !== undefined) {
      while (libc().mq_send(fd, bytes, bytes.length, priority) === -1) {
        retryAfterFailure(this.#sendFailure);
      }
      return;
    }
    this.#waitSync(() => this.#trySend(bytes, priority), "write", timeout);
  }

  /**
   * Sends a message, waiting without blocking the event loop while the
   * queue is full.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * await q.send("hello", { priority: 1, timeout: 1000 });
   * ```
   *
   * @param data The message: a string (sent as UTF-8), an `ArrayBuffer`, or
   *   any `ArrayBufferView`, every byte of it.
   * @param options `priority`, `timeout` (ms) and `signal`.
   * @returns A promise that resolves once the message is in the queue.
   * @throws {TypeError} For data or an option of the wrong type.
   * @throws {RangeError} For a priority outside 0..32767 or a bad timeout.
   * @throws {IpcError} `EMSGSIZE`, `EBADF` (closed, also while waiting, or
   *   opened read-only: the message says so).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async send(
    data: string | ArrayBufferView | ArrayBuffer,
    options?: SendOptions,
  ): Promise<void> {
    this.checkOpen("mq_send");
    const bytes = this.#message(data);
    const o = checkOptions(options);
    const priority = checkPriority(o.priority);
    await this.#wait(() => this.#trySend(bytes, priority), "write", o);
  }

  /**
   * Sends a message if there is room, without waiting.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary({ maxMessages: 1, messageSize: 16 });
   * console.log(q.trySend("a")); // true
   * console.log(q.trySend("b")); // false: full
   * ```
   *
   * @param data The message: a string (sent as UTF-8), an `ArrayBuffer`, or
   *   any `ArrayBufferView`, every byte of it.
   * @param options `priority`.
   * @returns `true` when sent, `false` when the queue is full.
   * @throws {TypeError} For data or an option of the wrong type.
   * @throws {RangeError} For a priority outside 0..32767.
   * @throws {IpcError} `EMSGSIZE`, `EBADF`.
   */
  trySend(
    data: string | ArrayBufferView | ArrayBuffer,
    options?: Pick<SendOptions, "priority">,
  ): boolean {
    this.checkOpen("mq_send");
    const bytes = this.#message(data);
    const priority = checkPriority(checkOptions(options).priority);
    return this.#trySend(bytes, priority) === true;
  }

  /**
   * Receives the oldest message of the highest priority into `buffer`,
   * blocking the thread (and the event loop) while the queue is empty.
   * Allocates nothing.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary({ messageSize: 128 });
   * q.sendSync("abc");
   * const buffer = new Uint8Array(q.messageSize);
   * const { length } = q.receiveIntoSync(buffer);
   * console.log(length); // 3
   * ```
   *
   * @param buffer Any `ArrayBufferView` or `ArrayBuffer` of at least
   *   `messageSize` bytes; the message fills its first `length` bytes.
   * @param options `timeout` in ms (monotonic clock; no limit by default).
   * @returns The message's length and priority.
   * @throws {TypeError} For a buffer or an option of the wrong type.
   * @throws {RangeError} When the buffer is smaller than `messageSize`, or
   *   for a bad timeout.
   * @throws {IpcError} `EBADF` when closed or opened write-only.
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveIntoSync(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: WaitSyncOptions,
  ): ReceivedInto {
    this.checkOpen("mq_receive");
    return this.#receiveIntoSync(
      this.#into(buffer),
      options === undefined ? undefined : checkWaitSyncOptions(options),
    );
  }

  #receiveIntoSync(
    bytes: Uint8Array,
    timeout: number | undefined,
  ): ReceivedInto {
    const fd = timeout === undefined
      ? this.#blockingDescriptor("mq_receive")
      : undefined;
    if (fd === undefined) {
      return this.#waitSync(() => this.#tryReceiveInto(bytes), "read", timeout);
    }
    const priority = this.#priority;
    let n: number;
    while ((n = libc().mq_receive(fd, bytes, bytes.length, priority)) === -1) {
      retryAfterFailure(this.#receiveFailure);
    }
    return { length: n, priority: priority[0]! };
  }

  /**
   * Receives into `buffer` without blocking the event loop.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary({ messageSize: 128 });
   * const buffer = new Uint8Array(q.messageSize);
   * setTimeout(() => q.sendSync("later"), 10);
   * const { length, priority } = await q.receiveInto(buffer, { timeout: 1000 });
   * console.log(length, priority); // 5 0
   * ```
   *
   * @param buffer Any `ArrayBufferView` or `ArrayBuffer` of at least
   *   `messageSize` bytes.
   * @param options `timeout` (ms) and `signal`.
   * @returns The message's length and priority.
   * @throws {TypeError} For a buffer or an option of the wrong type.
   * @throws {RangeError} When the buffer is smaller than `messageSize`, or
   *   for a bad timeout.
   * @throws {IpcError} `EBADF` (closed, also while waiting, or opened
   *   write-only: the message says so).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async receiveInto(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: WaitOptions,
  ): Promise<ReceivedInto> {
    this.checkOpen("mq_receive");
    const bytes = this.#into(buffer);
    return await this.#wait(() => this.#tryReceiveInto(bytes), "read", options);
  }

  /**
   * Receives into `buffer` if a message is waiting.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary({ messageSize: 128 });
   * console.log(q.tryReceiveInto(new Uint8Array(128))); // undefined
   * ```
   *
   * @param buffer Any `ArrayBufferView` or `ArrayBuffer` of at least
   *   `messageSize` bytes.
   * @returns Length and priority, or `undefined` when the queue is empty.
   * @throws {TypeError} For a buffer of the wrong type.
   * @throws {RangeError} When the buffer is smaller than `messageSize`.
   * @throws {IpcError} `EBADF`.
   */
  tryReceiveInto(
    buffer: ArrayBufferView | ArrayBuffer,
  ): ReceivedInto | undefined {
    this.checkOpen("mq_receive");
    return this.#tryReceiveInto(this.#into(buffer));
  }

  /**
   * Receives the oldest message of the highest priority, blocking the
   * thread (and the event loop) while the queue is empty. See mq_receive(3).
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * q.sendSync("ping");
   * console.log(q.receiveSync({ timeout: 100 }).data.length); // 4
   * ```
   *
   * @param options `timeout` in ms (monotonic clock; no limit by default).
   * @returns The message and its priority.
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a bad timeout.
   * @throws {IpcError} `EBADF` when closed or opened write-only.
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveSync(options?: WaitSyncOptions): ReceivedMessage {
    this.checkOpen("mq_receive");
    const got = this.#receiveIntoSync(
      this.#scratch,
      options === undefined ? undefined : checkWaitSyncOptions(options),
    );
    return {
      data: this.#scratch.slice(0, got.length),
      priority: got.priority,
    };
  }

  /**
   * Receives a message without blocking the event loop. Several pending
   * receives (in this process or others) each get a different message.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * const controller = new AbortController();
   * setTimeout(() => controller.abort(), 10);
   * await q.receive({ signal: controller.signal }).catch((e) => console.log(e.name)); // AbortError
   * ```
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns The message and its priority.
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a bad timeout.
   * @throws {IpcError} `EBADF` (closed, also while waiting, or opened
   *   write-only: the message says so).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async receive(options?: WaitOptions): Promise<ReceivedMessage> {
    this.checkOpen("mq_receive");
    // Each attempt copies out at once: another receive may reuse the scratch.
    return await this.#wait(() => this.#tryReceive(), "read", options);
  }

  /**
   * Receives a message if one is waiting.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * console.log(q.tryReceive()); // undefined
   * ```
   *
   * @returns The message, or `undefined` when the queue is empty.
   * @throws {IpcError} `EBADF`.
   */
  tryReceive(): ReceivedMessage | undefined {
    this.checkOpen("mq_receive");
    return this.#tryReceive();
  }

  /**
   * Resolves when the queue holds a message, without taking it: the
   * pollable-descriptor equivalent of mq_notify(3), open to any number of
   * watchers in any process. A receiver may take the message before the
   * watcher looks: it resolves all the same.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * setTimeout(() => q.sendSync("arrived"), 10);
   * await q.waitForMessage({ timeout: 1000 });
   * console.log(q.attributes.currentMessages); // 1
   * ```
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns A promise that resolves when a message is waiting.
   * @throws {TypeError} For an option of the wrong type.
   * @throws {RangeError} For a bad timeout.
   * @throws {IpcError} `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async waitForMessage(options?: WaitOptions): Promise<void> {
    this.checkOpen("poll");
    // Readiness seen by the reactor counts even if a receiver took the
    // message first, as one mq_notify(3) notification would.
    let ready = false;
    await waitUntil({
      attempt: () =>
        ready || pollDescriptorSync(this.descriptor("poll"), "read", 0) ||
        undefined,
      park: async (left, signal) => {
        await this.#parkRead(left, signal);
        ready = true;
      },
      check: this.#checkPoll,
      what: this.#what,
      closing: this.closing,
    }, checkWaitOptions(options));
  }

  /**
   * Receives messages as they come until the queue is closed or `signal`
   * aborts.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * q.sendSync("one");
   * q.sendSync("two");
   * for await (const message of q.messages()) {
   *   console.log(new TextDecoder().decode(message.data));
   *   if (q.attributes.currentMessages === 0) break;
   * }
   * ```
   *
   * @param options `signal` ends the iteration with the signal's reason.
   * @returns An async iterator of messages.
   * @throws {TypeError} For an option of the wrong type.
   */
  async *messages(
    options?: Pick<WaitOptions, "signal">,
  ): AsyncGenerator<ReceivedMessage, void, undefined> {
    const { signal } = checkWaitOptions(options);
    while (!this.closed) {
      try {
        yield await this.receive({ signal });
      } catch (error) {
        if (this.closed) return;
        throw error;
      }
    }
  }

  /**
   * `for await (const message of queue)`: {@linkcode MessageQueue.messages}
   * without options.
   *
   * @returns An async iterator of messages.
   */
  [Symbol.asyncIterator](): AsyncIterator<ReceivedMessage> {
    return this.messages();
  }

  /**
   * Closes the handle (mq_close(3)); pending waits reject with `EBADF`
   * before the descriptor is closed. The queue itself remains until
   * unlinked, except for a temporary queue, which is unlinked now. Closing
   * twice does nothing.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * const q = MessageQueue.temporary();
   * q.close();
   * q.close(); // no-op
   * ```
   */
  override close(): void {
    super.close();
  }

  /** Closes the descriptors (mq_close(3)); unlinks a temporary queue. */
  protected closeDescriptor(fd: number): void {
    if (this.#blocking !== undefined && this.#blocking >= 0) {
      libc().mq_close(this.#blocking);
    }
    libc().mq_close(fd);
    if (this.#unlinkOnClose) {
      this.#forgetAtExit?.();
      libc().mq_unlink(validatePosixName(this.name, "message queue"));
    }
  }
}

function readDefaults(): { msgDefault: number; msgsizeDefault: number } {
  const limits = readQueueLimits();
  return {
    msgDefault: limits.msgDefault ?? 10,
    msgsizeDefault: limits.msgsizeDefault ?? 8192,
  };
}
