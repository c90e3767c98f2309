import {
  closedError,
  forgetDescriptor,
  IpcError,
  type IpcErrorOptions,
  libc,
  pollDescriptorSync,
  type Readiness,
  retryAfterFailure,
  sys,
  trySys,
  validatePosixName,
  waitForDescriptor,
  type WaitOptions,
} from "../ffi/mod.ts";
import { openFailureHint, readQueueLimits } from "./_limits.ts";

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const MQ_PRIO_MAX = 32768;
const encoder = new TextEncoder();

/** Options for {@linkcode MessageQueue.open}. */
export interface MessageQueueOptions {
  /**
   * Create the queue if it does not exist (`O_CREAT`).
   * @default {false}
   */
  create?: boolean;
  /**
   * With `create`, fail with `EEXIST` if the queue exists (`O_EXCL`).
   * @default {false}
   */
  exclusive?: boolean;
  /**
   * Permission bits for a new queue (before the umask).
   * @default {0o600}
   */
  mode?: number;
  /**
   * Capacity in messages of a new queue (`mq_maxmsg`); unprivileged users
   * may ask at most `/proc/sys/fs/mqueue/msg_max`.
   * @default {/proc/sys/fs/mqueue/msg_default}
   */
  maxMessages?: number;
  /**
   * Largest message in bytes of a new queue (`mq_msgsize`); unprivileged
   * users may ask at most `/proc/sys/fs/mqueue/msgsize_max`.
   * @default {/proc/sys/fs/mqueue/msgsize_default}
   */
  messageSize?: number;
  /**
   * Which directions this handle may use.
   * @default {"read-write"}
   */
  access?: "read" | "write" | "read-write";
  /**
   * Microseconds that `send()`/`receive()` retry on the spot before parking
   * on the reactor thread, which costs a thread wake-up (tens of µs). Spins
   * only when the process may run on more than one CPU. 0 turns it off.
   * @default {50}
   */
  spin?: number;
}

/** Options for sending. */
export interface SendOptions extends WaitOptions {
  /**
   * Priority, 0 to 32767; higher priorities are received first.
   * @default {0}
   */
  priority?: number;
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
  "create" | "exclusive"
>;

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

function positiveInteger(value: number | undefined, what: string): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
}

function timeoutError(ms: number, name: string): DOMException {
  return new DOMException(
    `Timed out after ${ms} ms on message queue "${name}"`,
    "TimeoutError",
  );
}

const cpus = (() => {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } })
    .navigator?.hardwareConcurrency;
  return typeof n === "number" ? n : 1;
})();

/**
 * A POSIX message queue (mq_overview(7)): a named, kernel-held queue of
 * discrete messages with priorities, shared by any processes that open the
 * same name. Messages of higher priority are received first; equal
 * priorities arrive in the order sent.
 *
 * Closing is not removing: a queue lives until {@linkcode MessageQueue.unlink}
 * (or reboot). Every blocking operation comes three ways: `xSync()` blocks
 * the thread (fastest), `x()` returns a promise and never blocks the event
 * loop (with `timeout` and `signal`), `tryX()` returns at once.
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
export class MessageQueue
  implements Disposable, AsyncIterable<ReceivedMessage> {
  /** The queue's name, such as `"/jobs"`. */
  readonly name: string;
  /** Largest message in bytes; receive buffers need at least this many. */
  readonly messageSize: number;
  /** Capacity in messages. */
  readonly maxMessages: number;
  #fd: number;
  #blocking = false;
  #unlinkOnClose: boolean;
  #spinMs: number;
  #scratch: Uint8Array;
  #priority = new Uint32Array(1);
  #attr = new BigInt64Array(8);
  // What a failed send or receive reports; made once, not per call.
  #sendFailure: IpcErrorOptions;
  #receiveFailure: IpcErrorOptions;

  private constructor(
    name: string,
    fd: number,
    unlinkOnClose: boolean,
    spin: number,
  ) {
    this.name = name;
    this.#fd = fd;
    this.#sendFailure = {
      syscall: "mq_send",
      path: name,
      action: "send to message queue",
    };
    this.#receiveFailure = {
      syscall: "mq_receive",
      path: name,
      action: "receive from message queue",
    };
    this.#unlinkOnClose = unlinkOnClose;
    this.#spinMs = cpus > 1 ? spin / 1000 : 0;
    const a = this.#getattr();
    this.maxMessages = a.maxMessages;
    this.messageSize = a.messageSize;
    this.#scratch = new Uint8Array(this.messageSize);
  }

  /**
   * Opens (and with `create`, creates) a queue. See mq_open(3).
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
   * @param name One leading `/`, no other `/`, 1 to 255 bytes after it.
   * @param options Creation flags, limits and access.
   * @returns The open queue.
   * @throws {TypeError} For a malformed name.
   * @throws {RangeError} For a name too long or bad limits.
   * @throws {IpcError} `ENOENT` (missing, no `create`), `EEXIST`
   *   (`exclusive`), `EACCES`, `EINVAL` (limits over msg_max/msgsize_max),
   *   `EMFILE` (RLIMIT_NOFILE or RLIMIT_MSGQUEUE), `ENOSPC` (queues_max); the
   *   message says which limit and how to raise it.
   */
  static open(name: string, options: MessageQueueOptions = {}): MessageQueue {
    return MessageQueue.#open(name, options, false);
  }

  /**
   * Creates a queue with a random unused name that is unlinked when the
   * handle closes.
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * console.log(q.name.startsWith("/ipckit_")); // true
   * ```
   *
   * @param options Limits and access.
   * @returns The open queue.
   * @throws {IpcError} As {@linkcode MessageQueue.open}.
   */
  static temporary(options: TemporaryQueueOptions = {}): MessageQueue {
    const name = `/ipckit_${crypto.randomUUID().replaceAll("-", "")}`;
    return MessageQueue.#open(
      name,
      { ...options, create: true, exclusive: true },
      true,
    );
  }

  static #open(
    name: string,
    options: MessageQueueOptions,
    unlinkOnClose: boolean,
  ): MessageQueue {
    const cname = validatePosixName(name, "message queue");
    const {
      create = false,
      exclusive = false,
      mode = 0o600,
      maxMessages,
      messageSize,
      access = "read-write",
      spin = 50,
    } = options;
    positiveInteger(maxMessages, "maxMessages");
    positiveInteger(messageSize, "messageSize");
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new RangeError(
        `mode must be an integer from 0 to 0o7777, got ${mode}`,
      );
    }
    if (!(spin >= 0)) throw new RangeError(`spin must be >= 0, got ${spin}`);
    const accessFlag =
      { read: O_RDONLY, write: O_WRONLY, "read-write": O_RDWR }[access];
    if (accessFlag === undefined) {
      throw new TypeError(
        `access must be "read", "write" or "read-write", got ${access}`,
      );
    }
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
    try {
      return new MessageQueue(name, fd, unlinkOnClose, spin);
    } catch (error) {
      libc().mq_close(fd);
      throw error;
    }
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
   * The raw queue descriptor (`mqd_t`), pollable with epoll/poll. Escape
   * hatch: do not close it yourself.
   */
  get fd(): number {
    return this.#check("fd");
  }

  /** Whether {@linkcode MessageQueue.close} has been called. */
  get closed(): boolean {
    return this.#fd < 0;
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
   */
  get attributes(): MessageQueueAttributes {
    this.#check("mq_getattr");
    return this.#getattr();
  }

  #getattr(): MessageQueueAttributes {
    sys(() => libc().mq_getattr(this.#fd, this.#attr), {
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

  #check(syscall: string): number {
    if (this.#fd < 0) throw closedError("message queue", this.name, syscall);
    return this.#fd;
  }

  /** Switches the descriptor between blocking and non-blocking mode. */
  #setBlocking(blocking: boolean): void {
    if (this.#blocking === blocking) return;
    const attr = new BigInt64Array(8);
    attr[0] = blocking ? 0n : BigInt(O_NONBLOCK);
    sys(() => libc().mq_setattr(this.#fd, attr, null), {
      syscall: "mq_setattr",
      path: this.name,
      action: "set mode of message queue",
    });
    this.#blocking = blocking;
  }

  #checkSend(data: Uint8Array, priority: number): void {
    if (
      !Number.isInteger(priority) || priority < 0 || priority >= MQ_PRIO_MAX
    ) {
      throw new RangeError(
        `priority must be an integer from 0 to ${
          MQ_PRIO_MAX - 1
        }, got ${priority}`,
      );
    }
    if (data.length > this.messageSize) {
      throw new IpcError("EMSGSIZE", {
        syscall: "mq_send",
        path: this.name,
        action: "send to message queue",
        hint:
          `The message is ${data.length} bytes; the queue's messageSize is ${this.messageSize}`,
      });
    }
  }

  /** Retries `attempt` until it succeeds, blocking in poll(2) between tries. */
  #blockUntil<T>(
    attempt: () => T | undefined,
    kind: Readiness,
    timeout: number | undefined,
  ): T {
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    for (;;) {
      const result = attempt();
      if (result !== undefined) return result;
      const left = deadline - performance.now();
      if (left <= 0 || !pollDescriptorSync(this.#fd, kind, left)) {
        throw timeoutError(timeout!, this.name);
      }
    }
  }

  /** Retries `attempt` until it succeeds: spin briefly, then park on the reactor. */
  async #waitUntil<T>(
    attempt: () => T | undefined,
    kind: Readiness,
    options: WaitOptions,
  ): Promise<T> {
    const { signal, timeout } = options;
    signal?.throwIfAborted();
    let result = attempt();
    if (result !== undefined) return result;
    if (this.#spinMs > 0) {
      const until = performance.now() + this.#spinMs;
      while (performance.now() < until) {
        // Yield between tries: a peer on this same CPU gets to run.
        libc().sched_yield();
        result = attempt();
        if (result !== undefined) return result;
      }
    }
    const deadline = timeout === undefined
      ? Infinity
      : performance.now() + timeout;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError(timeout!, this.name);
      try {
        await waitForDescriptor(
          this.#check(kind === "read" ? "mq_receive" : "mq_send"),
          kind,
          {
            signal,
            timeout: left === Infinity ? undefined : left,
          },
        );
      } catch (error) {
        if (error instanceof DOMException && error.name === "TimeoutError") {
          throw timeoutError(timeout!, this.name);
        }
        throw error;
      }
      this.#check(kind === "read" ? "mq_receive" : "mq_send");
      result = attempt();
      if (result !== undefined) return result;
    }
  }

  #trySendBytes(data: Uint8Array, priority: number): true | undefined {
    this.#setBlocking(false);
    const r = trySys(
      () => libc().mq_send(this.#fd, data, data.length, priority),
      this.#sendFailure,
    );
    return r === undefined ? undefined : true;
  }

  /**
   * Sends a message, blocking the thread (and the event loop) while the
   * queue is full. See mq_send(3).
   *
   * @example
   * ```ts
   * import { MessageQueue } from "@ipckit/ipc/mq";
   *
   * using q = MessageQueue.temporary();
   * q.sendSync(new Uint8Array([1, 2, 3]), { priority: 2 });
   * ```
   *
   * @param data The message; strings are sent as UTF-8.
   * @param options `priority`, and `timeout` in ms (monotonic clock).
   * @throws {IpcError} `EMSGSIZE` when larger than `messageSize`, `EBADF`
   *   when closed or opened read-only.
   * @throws {RangeError} For a priority outside 0..32767.
   * @throws {DOMException} `TimeoutError` when the queue stayed full.
   */
  sendSync(
    data: Uint8Array | string,
    options: Omit<SendOptions, "signal"> = {},
  ): void {
    const fd = this.#check("mq_send");
    const bytes = toBytes(data);
    const { priority = 0, timeout } = options;
    this.#checkSend(bytes, priority);
    if (timeout === undefined) {
      this.#setBlocking(true);
      while (libc().mq_send(fd, bytes, bytes.length, priority) === -1) {
        retryAfterFailure(this.#sendFailure);
      }
      return;
    }
    this.#blockUntil(
      () => this.#trySendBytes(bytes, priority),
      "write",
      timeout,
    );
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
   * @param data The message; strings are sent as UTF-8.
   * @param options `priority`, `timeout` (ms) and `signal`.
   * @returns A promise that resolves once the message is in the queue.
   * @throws {IpcError} `EMSGSIZE`, `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async send(
    data: Uint8Array | string,
    options: SendOptions = {},
  ): Promise<void> {
    this.#check("mq_send");
    const bytes = toBytes(data);
    const { priority = 0 } = options;
    this.#checkSend(bytes, priority);
    await this.#waitUntil(
      () => this.#trySendBytes(bytes, priority),
      "write",
      options,
    );
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
   * @param data The message; strings are sent as UTF-8.
   * @param options `priority`.
   * @returns `true` when sent, `false` when the queue is full.
   * @throws {IpcError} `EMSGSIZE`, `EBADF`.
   */
  trySend(
    data: Uint8Array | string,
    options: Pick<SendOptions, "priority"> = {},
  ): boolean {
    this.#check("mq_send");
    const bytes = toBytes(data);
    const { priority = 0 } = options;
    this.#checkSend(bytes, priority);
    return this.#trySendBytes(bytes, priority) === true;
  }

  #checkInto(buffer: Uint8Array): void {
    if (!(buffer instanceof Uint8Array)) {
      throw new TypeError("The receive buffer must be a Uint8Array");
    }
    if (buffer.length < this.messageSize) {
      throw new RangeError(
        `The receive buffer has ${buffer.length} bytes; the queue's messageSize is ${this.messageSize}`,
      );
    }
  }

  #tryReceiveInto(buffer: Uint8Array): ReceivedInto | undefined {
    this.#setBlocking(false);
    const n = trySys(
      () => libc().mq_receive(this.#fd, buffer, buffer.length, this.#priority),
      this.#receiveFailure,
    );
    return n === undefined
      ? undefined
      : { length: n, priority: this.#priority[0] };
  }

  #copyOut(into: ReceivedInto): ReceivedMessage {
    return {
      data: this.#scratch.slice(0, into.length),
      priority: into.priority,
    };
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
   * @param buffer At least `messageSize` bytes.
   * @param options `timeout` in ms (monotonic clock).
   * @returns The message's length and priority.
   * @throws {RangeError} When the buffer is smaller than `messageSize`.
   * @throws {IpcError} `EBADF` when closed or opened write-only.
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveIntoSync(
    buffer: Uint8Array,
    options: { timeout?: number } = {},
  ): ReceivedInto {
    const fd = this.#check("mq_receive");
    this.#checkInto(buffer);
    if (options.timeout === undefined) {
      this.#setBlocking(true);
      let n: number;
      const priority = this.#priority;
      while (
        (n = libc().mq_receive(fd, buffer, buffer.length, priority)) === -1
      ) {
        retryAfterFailure(this.#receiveFailure);
      }
      return { length: n, priority: priority[0] };
    }
    return this.#blockUntil(
      () => this.#tryReceiveInto(buffer),
      "read",
      options.timeout,
    );
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
   * @param buffer At least `messageSize` bytes.
   * @param options `timeout` (ms) and `signal`.
   * @returns The message's length and priority.
   * @throws {RangeError} When the buffer is smaller than `messageSize`.
   * @throws {IpcError} `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  receiveInto(
    buffer: Uint8Array,
    options: WaitOptions = {},
  ): Promise<ReceivedInto> {
    this.#check("mq_receive");
    this.#checkInto(buffer);
    return this.#waitUntil(() => this.#tryReceiveInto(buffer), "read", options);
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
   * @param buffer At least `messageSize` bytes.
   * @returns Length and priority, or `undefined` when the queue is empty.
   * @throws {RangeError} When the buffer is smaller than `messageSize`.
   * @throws {IpcError} `EBADF`.
   */
  tryReceiveInto(buffer: Uint8Array): ReceivedInto | undefined {
    this.#check("mq_receive");
    this.#checkInto(buffer);
    return this.#tryReceiveInto(buffer);
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
   * @param options `timeout` in ms (monotonic clock).
   * @returns The message and its priority.
   * @throws {IpcError} `EBADF` when closed or opened write-only.
   * @throws {DOMException} `TimeoutError` when nothing arrived in time.
   */
  receiveSync(options: { timeout?: number } = {}): ReceivedMessage {
    return this.#copyOut(this.receiveIntoSync(this.#scratch, options));
  }

  /**
   * Receives a message without blocking the event loop.
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
   * @throws {IpcError} `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async receive(options: WaitOptions = {}): Promise<ReceivedMessage> {
    this.#check("mq_receive");
    const scratch = this.#scratch;
    // Each attempt copies out at once: another receive may reuse the scratch.
    return await this.#waitUntil(
      () => {
        const got = this.#tryReceiveInto(scratch);
        return got === undefined ? undefined : this.#copyOut(got);
      },
      "read",
      options,
    );
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
    this.#check("mq_receive");
    const got = this.#tryReceiveInto(this.#scratch);
    return got === undefined ? undefined : this.#copyOut(got);
  }

  /**
   * Resolves when the queue holds a message (or has room, with
   * `"write"`), without taking it: the pollable-descriptor equivalent of
   * mq_notify(3), open to any number of watchers in any process.
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
   * @throws {IpcError} `EBADF` (also when closed while waiting).
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async waitForMessage(options: WaitOptions = {}): Promise<void> {
    const fd = this.#check("mq_notify");
    await waitForDescriptor(fd, "read", options).catch((error) => {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        throw timeoutError(options.timeout!, this.name);
      }
      throw error;
    });
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
   */
  async *messages(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<ReceivedMessage, void, undefined> {
    while (!this.closed) {
      try {
        yield await this.receive(options);
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
   * Closes the handle (mq_close(3)); pending waits reject with `EBADF`.
   * The queue itself remains until unlinked, except for a temporary queue,
   * which is unlinked now. Closing twice does nothing.
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
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    forgetDescriptor(fd, closedError("message queue", this.name, "mq_receive"));
    libc().mq_close(fd);
    if (this.#unlinkOnClose) {
      libc().mq_unlink(validatePosixName(this.name, "message queue"));
    }
  }

  /** Same as {@linkcode MessageQueue.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function readDefaults(): { msgDefault: number; msgsizeDefault: number } {
  const limits = readQueueLimits();
  return {
    msgDefault: limits.msgDefault ?? 10,
    msgsizeDefault: limits.msgsizeDefault ?? 8192,
  };
}
