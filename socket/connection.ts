import {
  checkInteger,
  checkOptions,
  checkSpin,
  DescriptorHandle,
  errno,
  IpcError,
  type IpcErrorOptions,
  libc,
  parkOnDescriptor,
  parkOnDescriptorSync,
  sys,
  toBytes,
  toWritableBytes,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import {
  addressOfSocket,
  blocksInKernel,
  checkFds,
  DEFAULT_MAX_RECORD,
  DEFAULT_SPIN,
  MAX_FDS,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  peerCredentialsOf,
  scratchBuffer,
  SHUT_WR,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  socketOption,
  tryReceiveFds,
  trySendFds,
} from "./_socket.ts";
import type {
  SocketAddress,
  SocketConnectionType,
  SocketPeerCredentials,
  SocketReceivedFds,
} from "./types.ts";

const EAGAIN = 11;
const EINTR = 4;
const EMSGSIZE = 90;
const SO_TYPE = 3;
const SO_DOMAIN = 39;
const POLLRDHUP = 0x2000;
const POLLHUP = 0x10;
/** The most bytes one `receive()` of a stream socket returns. */
const STREAM_CHUNK = 65536;
const DEFAULT_MAX_FDS = 16;

/** Options of {@linkcode SocketConnection.fromDescriptor}. */
export interface SocketConnectionOptions {
  /**
   * The largest record `receive()` and `receiveFds()` accept on a seqpacket
   * socket; a bigger one is discarded and reported as `EMSGSIZE`.
   * @default {262144}
   */
  maxMessageSize?: number | undefined;
  /**
   * Microseconds the async calls retry (yielding the CPU) before they
   * park on the reactor: an answer that comes back within it skips the
   * thread hop of a wake-up. Ignored on one CPU. Any non-zero value also
   * makes every waiting call (sync ones too) yield the CPU once and try
   * again before it waits; 0 waits at once.
   * @default {50}
   */
  spin?: number | undefined;
}

/** Options of {@linkcode SocketConnection.receiveFds}. */
export interface SocketReceiveFdsOptions extends WaitOptions {
  /**
   * The most descriptors to accept; the kernel closes any beyond (and
   * `truncated` says so).
   * @default {16}
   */
  maxFds?: number;
  /**
   * The most bytes to read with them (a stream socket); seqpacket records
   * up to `maxMessageSize` are read whole.
   * @default {65536}
   */
  maxBytes?: number;
}

/** Options of {@linkcode SocketConnection.receiveFdsSync}. */
export interface SocketReceiveFdsSyncOptions extends WaitSyncOptions {
  /**
   * The most descriptors to accept; the kernel closes any beyond.
   * @default {16}
   */
  maxFds?: number;
  /**
   * The most bytes to read with them (a stream socket).
   * @default {65536}
   */
  maxBytes?: number;
}

interface SocketGlobals {
  readonly ReadableStream: typeof ReadableStream;
  readonly WritableStream: typeof WritableStream;
}

/**
 * A connected socket: a Unix stream or seqpacket socket, or a TCP
 * connection. Made by {@linkcode connect}, by a server's `accept()` (or its
 * async iterator), or by {@linkcode socketPair}.
 *
 * - Stream sockets carry bytes: `readable`/`writable` (Web Streams), or
 *   `read()`/`write()` and `receive()` (the next chunk).
 * - Seqpacket sockets carry whole records: `send()` and `receive()` (each
 *   returns one record, boundaries kept); `readable` yields records too.
 * - Unix sockets pass descriptors (`sendFds()`/`receiveFds()`) and tell who
 *   the peer is (`peer`).
 *
 * Every blocking operation has three forms: `x()` (a Promise that never
 * blocks the event loop, with `{ signal, timeout }`), `xSync()` (blocks the
 * thread: fastest) and `tryX()` (never blocks; `undefined` when it would).
 * The socket's own description is never switched to non-blocking mode
 * behind anyone's back: every call passes `MSG_DONTWAIT` and waits through
 * poll/epoll, so a descriptor shared with another process behaves the same
 * for it. Connections this module makes are blocking once connected (a
 * listening socket stays non-blocking): a sync receive without a timeout is
 * one blocking call, as in C.
 *
 * @example A seqpacket pair: records keep their boundaries
 * ```ts
 * import { socketPair } from "@ipckit/ipc/socket";
 *
 * const [a, b] = socketPair("seqpacket");
 * using _a = a;
 * using _b = b;
 * a.sendSync("one");
 * a.sendSync("two");
 * console.log(new TextDecoder().decode(b.receiveSync()!)); // one
 * console.log(new TextDecoder().decode(b.receiveSync()!)); // two
 * ```
 */
export class SocketConnection extends DescriptorHandle
  implements AsyncDisposable {
  /** `"stream"` or `"seqpacket"`. */
  readonly type: SocketConnectionType;
  readonly #fd: number;
  readonly #family: number;
  readonly #maxRecord: number;
  readonly #spin: number;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  #peer: SocketPeerCredentials | undefined;
  #local: SocketAddress | undefined;
  #remote: SocketAddress | undefined;
  readonly #parkRead = parkOnDescriptor(() => this.descriptor("recv"), "read");
  readonly #parkWrite = parkOnDescriptor(
    () => this.descriptor("send"),
    "write",
  );
  readonly #check = () => this.checkOpen("recv");

  private constructor(
    fd: number,
    type: SocketConnectionType,
    family: number,
    maxRecord: number,
    spin: number,
  ) {
    super(fd, type === "stream" ? "stream socket" : "seqpacket socket");
    this.#fd = fd;
    this.type = type;
    this.#family = family;
    this.#maxRecord = maxRecord;
    this.#spin = spin;
  }

  /**
   * Wraps a connected stream or seqpacket socket this process holds (one
   * received with `receiveFds()`, inherited, or made by other code), taking
   * ownership: `close()` closes it. Raw escape hatch. Its type and family
   * are read from the socket (`SO_TYPE`, `SO_DOMAIN`); its file status
   * flags are left as they are.
   *
   * @example
   * ```ts
   * import { SocketConnection, socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _b = b;
   * using c = SocketConnection.fromDescriptor(a.fd);
   * console.log(c.type); // stream
   * ```
   *
   * @param fd The descriptor.
   * @param options The largest record to accept.
   * @returns The connection.
   * @throws {IpcError} `ENOTSOCK` for a descriptor that is not a socket,
   *   `EBADF` for one not open.
   * @throws {TypeError} For a datagram socket (use `DatagramSocket`).
   */
  static fromDescriptor(
    fd: number,
    options: SocketConnectionOptions = {},
  ): SocketConnection {
    checkInteger(fd, "fd", 0, 0x7fffffff);
    const o = checkOptions(options);
    const maxRecord = o.maxMessageSize === undefined
      ? DEFAULT_MAX_RECORD
      : checkInteger(o.maxMessageSize, "maxMessageSize", 1, 0x7fffffff);
    const spin = checkSpin(o.spin, DEFAULT_SPIN);
    const type = socketOption(fd, SO_TYPE);
    const family = socketOption(fd, SO_DOMAIN);
    if (type !== SOCK_STREAM && type !== SOCK_SEQPACKET) {
      throw new TypeError(
        `fd ${fd} is not a stream or seqpacket socket (SO_TYPE ${type})`,
      );
    }
    return new SocketConnection(
      fd,
      type === SOCK_STREAM ? "stream" : "seqpacket",
      family,
      maxRecord,
      spin,
    );
  }

  /** The address of this end (`{ unnamed: true }` for most Unix clients). */
  get localAddress(): SocketAddress {
    this.checkOpen("getsockname");
    return this.#local ??= addressOfSocket(this.#fd, "local");
  }

  /** The address of the other end. */
  get remoteAddress(): SocketAddress {
    this.checkOpen("getpeername");
    return this.#remote ??= addressOfSocket(this.#fd, "remote");
  }

  /**
   * The process at the other end of a Unix socket, as it was when the
   * connection was made (`SO_PEERCRED`): pid, effective uid and gid.
   * @throws {IpcError} When the socket is not a Unix socket.
   */
  get peer(): SocketPeerCredentials {
    this.checkOpen("getsockopt");
    if (this.#family !== 1) {
      throw new IpcError("ENOTSUP", {
        syscall: "getsockopt",
        action: "read peer credentials of",
        path: "a TCP connection",
        hint: "Peer credentials exist only for Unix sockets",
      });
    }
    return this.#peer ??= peerCredentialsOf(this.#fd);
  }

  /**
   * The bytes (or records) arriving, as a Web `ReadableStream`; it reads
   * only when asked to (no read-ahead), so it can be mixed with
   * `receive()`, and cancelling it stops its pending read (nothing more is
   * taken from the socket). It ends when the peer closes or shuts its
   * writing half.
   */
  get readable(): ReadableStream<Uint8Array> {
    this.checkOpen("recv");
    if (this.#readable !== undefined) return this.#readable;
    const g = globalThis as unknown as SocketGlobals;
    // Cancelling stops a pending receive, so that no byte is taken from
    // the socket for a stream nobody reads any more.
    const cancelled = new AbortController();
    this.#readable = new g.ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let chunk: Uint8Array | null;
        try {
          chunk = await this.receive({ signal: cancelled.signal });
        } catch (error) {
          if (cancelled.signal.aborted) return;
          throw error;
        }
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel: (reason) => cancelled.abort(reason),
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  /**
   * A Web `WritableStream` that sends each chunk whole (`write()`, or
   * `send()` as one record on a seqpacket socket); closing it shuts the
   * writing half down (`closeWrite()`), aborting it closes the connection.
   */
  get writable(): WritableStream<Uint8Array> {
    this.checkOpen("send");
    const g = globalThis as unknown as SocketGlobals;
    this.#writable ??= new g.WritableStream<Uint8Array>({
      write: (chunk) => this.send(chunk),
      close: () => {
        if (!this.closed) this.closeWrite();
      },
      abort: () => this.close(),
    });
    return this.#writable;
  }

  // -- bytes and records in -------------------------------------------------

  /**
   * Reads what is there into `buffer`, never blocking: the number of bytes
   * read, `null` at the end (the peer closed or shut its writing half), or
   * `undefined` when nothing is there yet. On a seqpacket socket it reads
   * one record; the part that does not fit is discarded (`EMSGSIZE`).
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * const buffer = new Uint8Array(16);
   * console.log(b.tryRead(buffer)); // undefined
   * a.writeSync("hi");
   * console.log(b.tryRead(buffer)); // 2
   * ```
   *
   * @param buffer Where to read to.
   * @returns Bytes read, `null` at the end, `undefined` when it would block.
   * @throws {IpcError} `ECONNRESET` and other socket errors, `EBADF` once closed.
   */
  tryRead(buffer: ArrayBufferView | ArrayBuffer): number | null | undefined {
    const bytes = toWritableBytes(buffer, "buffer");
    return this.#tryRead(bytes, bytes.byteLength);
  }

  /**
   * Reads into `buffer`, waiting without blocking the event loop until
   * something arrives; `null` at the end.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * setTimeout(() => a.writeSync("hello"), 10);
   * const buffer = new Uint8Array(16);
   * console.log(await b.read(buffer, { timeout: 1000 })); // 5
   * ```
   *
   * @param buffer Where to read to.
   * @param options `signal` and `timeout`.
   * @returns Bytes read, or `null` at the end.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} Socket errors, `EBADF` once closed (pending reads too).
   */
  read(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: WaitOptions,
  ): Promise<number | null> {
    const bytes = toWritableBytes(buffer, "buffer");
    const first = this.#tryRead(bytes, bytes.byteLength) ??
      this.#afterYield(() => this.#tryRead(bytes, bytes.byteLength));
    if (first !== undefined) return Promise.resolve(first);
    return waitUntil({
      attempt: () => this.#tryRead(bytes, bytes.byteLength),
      park: this.#parkRead,
      check: this.#check,
      closing: this.closing,
      what: "data on socket",
      spin: this.#spin,
    }, options);
  }

  /**
   * Reads into `buffer`, blocking the thread (and the event loop) until
   * something arrives; `null` at the end.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * a.writeSync("hello");
   * console.log(b.readSync(new Uint8Array(16))); // 5
   * ```
   *
   * @param buffer Where to read to.
   * @param options `timeout` in ms.
   * @returns Bytes read, or `null` at the end.
   * @throws {DOMException} `TimeoutError`.
   * @throws {IpcError} Socket errors, `EBADF` once closed.
   */
  readSync(
    buffer: ArrayBufferView | ArrayBuffer,
    options?: WaitSyncOptions,
  ): number | null {
    const bytes = toWritableBytes(buffer, "buffer");
    // No timeout: one blocking recv, as C does.
    const first =
      this.#tryRead(bytes, bytes.byteLength, blocksInKernel(options)) ??
        this.#afterYield(() => this.#tryRead(bytes, bytes.byteLength));
    if (first !== undefined) return first;
    return waitUntilSync({
      attempt: () => this.#tryRead(bytes, bytes.byteLength),
      park: parkOnDescriptorSync(this.#fd, "read"),
      check: this.#check,
      what: "data on socket",
    }, options);
  }

  /**
   * The next record (seqpacket) or chunk of bytes (stream, up to 64 KiB)
   * if one is there: `null` at the end, `undefined` when nothing is there.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * console.log(b.tryReceive()); // undefined
   * a.sendSync(new Uint8Array([1, 2, 3]));
   * console.log(b.tryReceive()); // Uint8Array(3) [ 1, 2, 3 ]
   * ```
   *
   * @returns A new `Uint8Array`, `null` at the end, or `undefined`.
   * @throws {IpcError} `EMSGSIZE` for a record over `maxMessageSize`
   *   (discarded), socket errors, `EBADF` once closed.
   */
  tryReceive(): Uint8Array | null | undefined {
    return this.#tryReceive();
  }

  /**
   * The next record (seqpacket) or chunk of bytes (stream, up to 64 KiB),
   * waiting without blocking the event loop; `null` at the end.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * setTimeout(() => a.sendSync("ping"), 10);
   * const record = await b.receive({ timeout: 1000 });
   * console.log(new TextDecoder().decode(record!)); // ping
   * ```
   *
   * @param options `signal` and `timeout`.
   * @returns A new `Uint8Array`, or `null` at the end.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} `EMSGSIZE` for a record over `maxMessageSize`, socket
   *   errors, `EBADF` once closed (pending receives too).
   */
  receive(options?: WaitOptions): Promise<Uint8Array | null> {
    const first = this.#tryReceive() ??
      this.#afterYield(() => this.#tryReceive());
    if (first !== undefined) return Promise.resolve(first);
    return waitUntil({
      attempt: () => this.#tryReceive(),
      park: this.#parkRead,
      check: this.#check,
      closing: this.closing,
      what: "data on socket",
      spin: this.#spin,
    }, options);
  }

  /**
   * The next record (seqpacket) or chunk of bytes (stream), blocking the
   * thread (and the event loop); `null` at the end.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * a.sendSync("ping");
   * console.log(new TextDecoder().decode(b.receiveSync()!)); // ping
   * ```
   *
   * @param options `timeout` in ms.
   * @returns A new `Uint8Array`, or `null` at the end.
   * @throws {DOMException} `TimeoutError`.
   * @throws {IpcError} `EMSGSIZE`, socket errors, `EBADF` once closed.
   */
  receiveSync(options?: WaitSyncOptions): Uint8Array | null {
    const first = this.#tryReceive(blocksInKernel(options)) ??
      this.#afterYield(() => this.#tryReceive());
    if (first !== undefined) return first;
    return waitUntilSync({
      attempt: () => this.#tryReceive(),
      park: parkOnDescriptorSync(this.#fd, "read"),
      check: this.#check,
      what: "data on socket",
    }, options);
  }

  // -- bytes and records out ------------------------------------------------

  /**
   * Sends what the socket takes now, never blocking: the number of bytes
   * sent (a stream socket may take part), or `undefined` when it is full.
   * On a seqpacket socket the record goes whole or not at all.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * console.log(a.tryWrite("abc")); // 3
   * ```
   *
   * @param data The bytes (strings are UTF-8 encoded).
   * @returns Bytes sent, or `undefined` when it would block.
   * @throws {IpcError} `EPIPE` when the peer is gone, `EMSGSIZE` for a
   *   record too big for the socket, `EBADF` once closed.
   */
  tryWrite(data: ArrayBufferView | ArrayBuffer | string): number | undefined {
    const bytes = toBytes(data, "data");
    return this.#trySend(bytes, 0);
  }

  /**
   * Sends every byte of `data` (one record on a seqpacket socket), waiting
   * without blocking the event loop while the socket is full.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * await a.write("hello");
   * console.log(b.readSync(new Uint8Array(8))); // 5
   * ```
   *
   * @param data The bytes (strings are UTF-8 encoded).
   * @param options `signal` and `timeout`; on a stream socket some bytes
   *   may have been sent when it rejects.
   * @returns A promise that resolves when all of it was sent.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} `EPIPE` when the peer is gone, `EMSGSIZE`, `EBADF`
   *   once closed.
   */
  async write(
    data: ArrayBufferView | ArrayBuffer | string,
    options?: WaitOptions,
  ): Promise<void> {
    const bytes = toBytes(data, "data");
    let sent = this.#trySend(bytes, 0);
    if (sent === bytes.byteLength) return;
    sent ??= -1; // nothing sent yet (an empty record must still go once)
    // The timeout covers the whole write: each wait gets what is left.
    const start = performance.now();
    let wait = options;
    while (sent < bytes.byteLength) {
      const at = Math.max(0, sent);
      const attempt = () => this.#trySend(bytes, at);
      const n: number = this.#afterYield(attempt) ?? await waitUntil({
        attempt,
        park: this.#parkWrite,
        check: this.#check,
        closing: this.closing,
        what: "room in socket",
        spin: this.#spin,
      }, wait);
      sent = at + n;
      wait = remaining(options, start);
    }
  }

  /**
   * Sends every byte of `data` (one record on a seqpacket socket), blocking
   * the thread while the socket is full.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * a.writeSync("hello");
   * console.log(b.readSync(new Uint8Array(8))); // 5
   * ```
   *
   * @param data The bytes (strings are UTF-8 encoded).
   * @param options `timeout` in ms.
   * @throws {DOMException} `TimeoutError`.
   * @throws {IpcError} `EPIPE`, `EMSGSIZE`, `EBADF` once closed.
   */
  writeSync(
    data: ArrayBufferView | ArrayBuffer | string,
    options?: WaitSyncOptions,
  ): void {
    const bytes = toBytes(data, "data");
    let sent = this.#trySend(bytes, 0);
    if (sent === bytes.byteLength) return;
    sent ??= -1; // nothing sent yet (an empty record must still go once)
    const park = parkOnDescriptorSync(this.#fd, "write");
    const start = performance.now();
    let wait = options;
    while (sent < bytes.byteLength) {
      const at = Math.max(0, sent);
      sent = at + waitUntilSync({
        attempt: () => this.#trySend(bytes, at),
        park,
        check: this.#check,
        what: "room in socket",
      }, wait);
      wait = remaining(options, start);
    }
  }

  /**
   * Sends a record (seqpacket) or all the bytes (stream): the same as
   * {@linkcode SocketConnection.write}, named for message-oriented use.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * await a.send("record");
   * console.log(b.receiveSync()!.length); // 6
   * ```
   *
   * @param data The record.
   * @param options `signal` and `timeout`.
   * @returns A promise that resolves once it was sent.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} `EMSGSIZE` for a record bigger than the socket's
   *   send buffer, `EPIPE`, `EBADF` once closed.
   */
  send(
    data: ArrayBufferView | ArrayBuffer | string,
    options?: WaitOptions,
  ): Promise<void> {
    return this.write(data, options);
  }

  /**
   * Sends a record (seqpacket) or all the bytes (stream), blocking the
   * thread while the socket is full.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * a.sendSync("record");
   * console.log(b.receiveSync()!.length); // 6
   * ```
   *
   * @param data The record.
   * @param options `timeout` in ms.
   * @throws {DOMException} `TimeoutError`.
   * @throws {IpcError} `EMSGSIZE`, `EPIPE`, `EBADF` once closed.
   */
  sendSync(
    data: ArrayBufferView | ArrayBuffer | string,
    options?: WaitSyncOptions,
  ): void {
    this.writeSync(data, options);
  }

  /**
   * Sends a record (seqpacket) or some bytes (stream) if the socket has
   * room now: `true` when the record (all of `data`) went, `false` when it
   * would block. A stream socket that takes only part of `data` sends the
   * rest waiting (blocking), so the bytes are never cut.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * console.log(a.trySend("x")); // true
   * ```
   *
   * @param data The record.
   * @returns Whether it was sent.
   * @throws {IpcError} `EMSGSIZE`, `EPIPE`, `EBADF` once closed.
   */
  trySend(data: ArrayBufferView | ArrayBuffer | string): boolean {
    const bytes = toBytes(data, "data");
    const sent = this.#trySend(bytes, 0);
    if (sent === undefined) return false;
    if (sent < bytes.byteLength) this.writeSync(bytes.subarray(sent));
    return true;
  }

  // -- descriptors ----------------------------------------------------------

  /**
   * Sends descriptors (`SCM_RIGHTS`) with `data`, waiting without blocking
   * the event loop while the socket is full. The receiver gets its own
   * descriptors for the same open files (sharing their file position);
   * yours stay open. Unix sockets only. On a stream socket `data` must hold
   * at least one byte (the descriptors travel with its first byte).
   *
   * @example Passing a descriptor across a pair
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * await a.sendFds([0], "stdin");
   * const got = await b.receiveFds({ timeout: 1000 });
   * console.log(got?.fds.length, new TextDecoder().decode(got?.data)); // 1 stdin
   * ```
   *
   * @param fds 1 to 253 descriptors.
   * @param data The bytes (or record) they travel with.
   * @param options `signal` and `timeout`.
   * @returns A promise that resolves once all was sent.
   * @throws {IpcError} `EBADF` for a descriptor that is not open, `EPIPE`.
   */
  async sendFds(
    fds: readonly number[],
    data: ArrayBufferView | ArrayBuffer | string = new Uint8Array(0),
    options?: WaitOptions,
  ): Promise<void> {
    const [list, bytes] = this.#checkSendFds(fds, data);
    const start = performance.now();
    const sent = this.#trySendFds(list, bytes) ?? await waitUntil({
      attempt: () => this.#trySendFds(list, bytes),
      park: this.#parkWrite,
      check: this.#check,
      closing: this.closing,
      what: "room in socket",
      spin: this.#spin,
    }, options);
    if (sent < bytes.byteLength) {
      // The rest within what is left of the one timeout.
      await this.write(bytes.subarray(sent), remaining(options, start));
    }
  }

  /**
   * Sends descriptors with `data`, blocking the thread while the socket is
   * full. See {@linkcode SocketConnection.sendFds}.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * a.sendFdsSync([1, 2], "x");
   * const got = b.receiveFdsSync();
   * console.log(got?.fds.length); // 2
   * ```
   *
   * @param fds 1 to 253 descriptors.
   * @param data The bytes (or record) they travel with.
   * @param options `timeout` in ms.
   * @throws {IpcError} `EBADF` for a descriptor that is not open, `EPIPE`.
   */
  sendFdsSync(
    fds: readonly number[],
    data: ArrayBufferView | ArrayBuffer | string = new Uint8Array(0),
    options?: WaitSyncOptions,
  ): void {
    const [list, bytes] = this.#checkSendFds(fds, data);
    const start = performance.now();
    const sent = this.#trySendFds(list, bytes) ?? waitUntilSync({
      attempt: () => this.#trySendFds(list, bytes),
      park: parkOnDescriptorSync(this.#fd, "write"),
      check: this.#check,
      what: "room in socket",
    }, options);
    if (sent < bytes.byteLength) {
      this.writeSync(bytes.subarray(sent), remaining(options, start));
    }
  }

  /**
   * Receives descriptors and the bytes they came with, if something is
   * there: `null` at the end, `undefined` when nothing is there. Bytes sent
   * without descriptors come back with `fds` empty.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * console.log(b.tryReceiveFds()); // undefined
   * ```
   *
   * @param options `maxFds` and `maxBytes`.
   * @returns The descriptors (yours to close) and data, `null`, or `undefined`.
   * @throws {IpcError} `EMSGSIZE` for a record over `maxMessageSize` (its
   *   descriptors are closed), socket errors, `EBADF` once closed.
   */
  tryReceiveFds(
    options: { maxFds?: number; maxBytes?: number } = {},
  ): SocketReceivedFds | null | undefined {
    const [maxFds, buffer] = this.#receiveFdsSetup(options);
    return this.#tryReceiveFds(maxFds, buffer);
  }

  /**
   * Receives descriptors and the bytes they came with, waiting without
   * blocking the event loop; `null` at the end. Read a connection that
   * passes descriptors only with this (a plain read drops them: the kernel
   * closes descriptors nobody asked for).
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * setTimeout(() => a.sendFdsSync([0], "!"), 10);
   * const got = await b.receiveFds({ timeout: 1000 });
   * console.log(got?.fds.length); // 1
   * ```
   *
   * @param options `maxFds`, `maxBytes`, `signal` and `timeout`.
   * @returns The descriptors (yours to close) and data, or `null` at the end.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} `EMSGSIZE`, socket errors, `EBADF` once closed.
   */
  receiveFds(
    options: SocketReceiveFdsOptions = {},
  ): Promise<SocketReceivedFds | null> {
    const [maxFds, buffer] = this.#receiveFdsSetup(options);
    const first = this.#tryReceiveFds(maxFds, buffer) ??
      this.#afterYield(() => this.#tryReceiveFds(maxFds, buffer));
    if (first !== undefined) return Promise.resolve(first);
    return waitUntil({
      attempt: () => this.#tryReceiveFds(maxFds, buffer),
      park: this.#parkRead,
      check: this.#check,
      closing: this.closing,
      what: "descriptors on socket",
      spin: this.#spin,
    }, options);
  }

  /**
   * Receives descriptors and the bytes they came with, blocking the thread
   * (and the event loop); `null` at the end.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("seqpacket");
   * using _a = a;
   * using _b = b;
   * a.sendFdsSync([0]);
   * console.log(b.receiveFdsSync()?.fds.length); // 1
   * ```
   *
   * @param options `maxFds`, `maxBytes` and `timeout`.
   * @returns The descriptors (yours to close) and data, or `null` at the end.
   * @throws {DOMException} `TimeoutError`.
   * @throws {IpcError} `EMSGSIZE`, socket errors, `EBADF` once closed.
   */
  receiveFdsSync(
    options: SocketReceiveFdsSyncOptions = {},
  ): SocketReceivedFds | null {
    const [maxFds, buffer] = this.#receiveFdsSetup(options);
    const first = this.#tryReceiveFds(maxFds, buffer) ??
      this.#afterYield(() => this.#tryReceiveFds(maxFds, buffer));
    if (first !== undefined) return first;
    return waitUntilSync({
      attempt: () => this.#tryReceiveFds(maxFds, buffer),
      park: parkOnDescriptorSync(this.#fd, "read"),
      check: this.#check,
      what: "descriptors on socket",
    }, options);
  }

  // -- closing --------------------------------------------------------------

  /**
   * Shuts the writing half down (`shutdown(SHUT_WR)`): the peer reads the
   * end of the stream, and this end can still read. Idempotent.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("stream");
   * using _a = a;
   * using _b = b;
   * a.closeWrite();
   * console.log(b.readSync(new Uint8Array(1))); // null
   * ```
   *
   * @throws {IpcError} `EBADF` once closed.
   */
  closeWrite(): void {
    const fd = this.descriptor("shutdown");
    sys(() => libc().shutdown(fd, SHUT_WR), {
      syscall: "shutdown",
      action: "shut down the writing half of",
      path: "socket",
    });
  }

  /** Closes the connection (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Closes the descriptor. */
  protected closeDescriptor(fd: number): void {
    libc().close(fd);
  }

  // -- the calls ------------------------------------------------------------

  /**
   * One more try after giving the CPU away once (sched_yield): a peer on
   * this CPU that is about to answer gets to, and the answer is read
   * without the reactor's thread hop (which costs more than the round trip
   * itself). The wait path's spin does this on 2+ CPUs only.
   */
  #afterYield<T>(attempt: () => T | undefined): T | undefined {
    if (this.#spin === 0) return undefined;
    libc().sched_yield();
    return attempt();
  }

  #failure(syscall: string): IpcErrorOptions {
    return { syscall, action: `${syscall} on ${this.type} socket` };
  }

  /**
   * One recv: non-blocking, or (`block`) blocking where the descriptor is
   * (ours are, see makeBlocking; an adopted non-blocking one says EAGAIN).
   */
  #tryRead(
    bytes: Uint8Array,
    length: number,
    block = false,
  ): number | null | undefined {
    const fd = this.descriptor("recv");
    const flags = (this.type === "seqpacket" ? MSG_TRUNC : 0) |
      (block ? 0 : MSG_DONTWAIT);
    for (;;) {
      const n = libc().recv(fd, bytes, length, flags);
      if (n > 0) {
        if (n > length) {
          throw new IpcError(EMSGSIZE, {
            ...this.#failure("recv"),
            hint:
              `The record was ${n} bytes; the buffer holds ${length}: the record was discarded`,
          });
        }
        return n;
      }
      if (n === 0) {
        if (length === 0 && this.type === "stream") return 0;
        return this.#atEnd(fd) ? null : 0;
      }
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e !== EINTR) throw new IpcError(e, this.#failure("recv"));
    }
  }

  /** After a 0-byte read: the end (peer gone or shut down), or an empty record. */
  #atEnd(fd: number): boolean {
    if (this.type === "stream") return true;
    const pollfd = new Int32Array([fd, POLLRDHUP]);
    if (libc().poll(pollfd, 1, 0) <= 0) return false;
    return ((pollfd[1]! >>> 16) & (POLLRDHUP | POLLHUP)) !== 0;
  }

  #tryReceive(block = false): Uint8Array | null | undefined {
    // Read into the shared scratch buffer and copy out what came: cheaper
    // than a fresh (zeroed) buffer of the largest size per call.
    const size = this.type === "seqpacket" ? this.#maxRecord : STREAM_CHUNK;
    const buffer = scratchBuffer(size);
    const n = this.#tryRead(buffer, size, block);
    if (n === undefined || n === null) return n;
    return buffer.slice(0, n);
  }

  #trySend(bytes: Uint8Array, at: number): number | undefined {
    const fd = this.descriptor("send");
    const view = at === 0 ? bytes : bytes.subarray(at);
    for (;;) {
      const n = libc().send(
        fd,
        view,
        view.byteLength,
        MSG_DONTWAIT | MSG_NOSIGNAL,
      );
      if (n >= 0) return n === 0 && view.byteLength === 0 ? 0 : n;
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e === EINTR) continue;
      throw new IpcError(
        e,
        e === EMSGSIZE
          ? {
            ...this.#failure("send"),
            hint:
              `The record is ${view.byteLength} bytes, more than the socket's send buffer (SO_SNDBUF) takes`,
          }
          : this.#failure("send"),
      );
    }
  }

  #checkSendFds(
    fds: readonly number[],
    data: ArrayBufferView | ArrayBuffer | string,
  ): [readonly number[], Uint8Array] {
    const list = checkFds(fds);
    const bytes = toBytes(data, "data");
    this.checkOpen("sendmsg");
    if (this.#family !== 1) {
      throw new TypeError("Descriptors can be passed over Unix sockets only");
    }
    if (this.type === "stream" && bytes.byteLength === 0) {
      throw new RangeError(
        "On a stream socket descriptors travel with at least one byte of data: pass data",
      );
    }
    return [list, bytes];
  }

  #trySendFds(
    fds: readonly number[],
    bytes: Uint8Array,
  ): number | undefined {
    const fd = this.descriptor("sendmsg");
    return trySendFds(fd, fds, bytes, this.#failure("sendmsg"));
  }

  #receiveFdsSetup(
    options: { maxFds?: number; maxBytes?: number },
  ): [number, Uint8Array] {
    const o = checkOptions(options);
    const maxFds = o.maxFds === undefined
      ? DEFAULT_MAX_FDS
      : checkInteger(o.maxFds, "maxFds", 0, MAX_FDS);
    const maxBytes = this.type === "seqpacket"
      ? this.#maxRecord
      : o.maxBytes === undefined
      ? STREAM_CHUNK
      : checkInteger(o.maxBytes, "maxBytes", 1, 0x7fffffff);
    this.checkOpen("recvmsg");
    return [maxFds, scratchBuffer(maxBytes).subarray(0, maxBytes)];
  }

  #tryReceiveFds(
    maxFds: number,
    buffer: Uint8Array,
  ): SocketReceivedFds | null | undefined {
    const fd = this.descriptor("recvmsg");
    const got = tryReceiveFds(fd, buffer, maxFds, this.#failure("recvmsg"));
    if (got === undefined) return undefined;
    if ((got.flags & MSG_TRUNC) !== 0) {
      for (const f of got.fds) libc().close(f);
      throw new IpcError(EMSGSIZE, {
        ...this.#failure("recvmsg"),
        hint:
          `The record was longer than ${buffer.byteLength} bytes (maxMessageSize): it was discarded, and its descriptors closed`,
      });
    }
    if (got.bytes === 0 && got.fds.length === 0 && this.#atEnd(fd)) {
      return null;
    }
    return {
      fds: got.fds,
      data: buffer.slice(0, got.bytes),
      truncated: (got.flags & MSG_CTRUNC) !== 0,
    };
  }
}

/**
 * `options` with its timeout cut to what is left since `start` (after a
 * first wait validated it); the signal is kept.
 */
function remaining<T extends { timeout?: number | undefined }>(
  options: T | undefined,
  start: number,
): T | undefined {
  if (options?.timeout === undefined) return options;
  const left = Math.max(0, options.timeout - (performance.now() - start));
  return { ...options, timeout: left };
}
