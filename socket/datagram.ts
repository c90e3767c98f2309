import {
  checkInteger,
  checkMode,
  checkOptions,
  checkSpin,
  DescriptorHandle,
  errno,
  IpcError,
  type IpcErrorOptions,
  libc,
  type Park,
  parkOnDescriptor,
  parkOnDescriptorSync,
  type ParkSync,
  parkWithBackoff,
  parkWithBackoffSync,
  sys,
  toBytes,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  checkAddress,
  decodeAddress,
  describeAddress,
  encodeAddress,
  familyOf,
  SOCKADDR_MAX,
} from "./_address.ts";
import {
  addressOfSocket,
  bindSocket,
  blocksInKernel,
  type Bound,
  checkFds,
  closeQuietly,
  DEFAULT_SPIN,
  makeBlocking,
  MAX_FDS,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  openSocket,
  removeBoundFile,
  scratchBuffer,
  socketOption,
  tryReceiveFds,
  trySendFds,
} from "./_socket.ts";
import type {
  SocketAddress,
  SocketEndpoint,
  SocketReceivedFds,
} from "./types.ts";

const EAGAIN = 11;
const EINTR = 4;
const EMSGSIZE = 90;
/** The largest datagram `receive()` accepts by default: UDP's limit. */
const DEFAULT_MAX_DATAGRAM = 65536;
const DEFAULT_MAX_FDS = 16;
const SOCK_DGRAM = 2;
const SO_TYPE = 3;
const SO_DOMAIN = 39;

let openDatagram: (
  address: SocketEndpoint | undefined,
  options: DatagramOptions,
) => DatagramSocket;

function checkMax(value: unknown): number {
  return value === undefined
    ? DEFAULT_MAX_DATAGRAM
    : checkInteger(value, "maxMessageSize", 1, 0x7fffffff);
}

/** Options of {@linkcode bindDatagram}. */
export interface DatagramOptions {
  /**
   * Permission bits of the socket file (a `path` socket): who may send to
   * it needs write permission. The file has them from the start.
   * @default {0o600}
   */
  mode?: number;
  /**
   * The largest datagram `receive()` accepts; a bigger one is discarded and
   * reported as `EMSGSIZE`.
   * @default {65536}
   */
  maxMessageSize?: number;
  /**
   * For an unbound socket (no address): `"unix"`, `"ipv4"` or `"ipv6"`.
   * @default {"unix"}
   */
  family?: "unix" | "ipv4" | "ipv6";
  /**
   * Microseconds the async calls retry (yielding the CPU) before they park
   * on the reactor; 0 parks at once. Ignored on one CPU.
   * @default {50}
   */
  spin?: number;
}

/** A datagram and who sent it. */
export interface DatagramMessage {
  /** The datagram, whole. */
  readonly data: Uint8Array;
  /** The sender's address (`{ unnamed: true }` for an unbound Unix sender). */
  readonly from: SocketAddress;
}

/** What `DatagramSocket.receiveFds()` returns: descriptors, the datagram and its sender. */
export interface DatagramReceivedFds extends SocketReceivedFds {
  /** The sender's address. */
  readonly from: SocketAddress;
}

/** Options of {@linkcode DatagramSocket.receiveFds}. */
export interface DatagramReceiveFdsOptions extends WaitOptions {
  /**
   * The most descriptors to accept; the kernel closes any beyond (and
   * `truncated` says so).
   * @default {16}
   */
  maxFds?: number;
}

/**
 * A datagram socket: Unix (`SOCK_DGRAM`: reliable, ordered, boundaries
 * kept, on one host) or UDP (IPv4 or IPv6: boundaries kept, no promise of
 * delivery or order). Each `send()` is one datagram and each `receive()`
 * returns one, whole.
 *
 * @example Two Unix datagram sockets by abstract name
 * ```ts
 * import { bindDatagram } from "@ipckit/ipc/socket";
 *
 * const stamp = Date.now();
 * using a = bindDatagram({ abstract: `ipckit-doc-a-${stamp}` });
 * using b = bindDatagram({ abstract: `ipckit-doc-b-${stamp}` });
 * a.sendSync("hi", { abstract: `ipckit-doc-b-${stamp}` });
 * const { data, from } = b.receiveSync();
 * console.log(new TextDecoder().decode(data), from); // hi { abstract: "ipckit-doc-a-..." }
 * ```
 */
export class DatagramSocket extends DescriptorHandle
  implements AsyncDisposable {
  readonly #fd: number;
  readonly #family: number;
  readonly #bound: Bound;
  readonly #max: number;
  #connected = false;
  readonly #name = new Uint8Array(SOCKADDR_MAX);
  readonly #nameLength = new Uint32Array(1);
  readonly #parkRead: Park;
  readonly #spin: number;
  /** The last sender's raw address and its decoded (frozen) form. */
  readonly #lastName = new Uint8Array(SOCKADDR_MAX);
  #lastNameLength = -1;
  #lastFrom: SocketAddress | undefined;
  /** The last frozen destination and its encoding. */
  #lastTo: SocketEndpoint | undefined;
  #lastTarget: { bytes: Uint8Array; length: number } | undefined;

  private constructor(
    fd: number,
    family: number,
    bound: Bound,
    max: number,
    connected: boolean,
    spin: number,
  ) {
    super(fd, "datagram socket");
    this.#spin = spin;
    this.#connected = connected;
    this.#fd = fd;
    this.#family = family;
    this.#bound = bound;
    this.#max = max;
    this.#parkRead = parkOnDescriptor(
      () => this.descriptor("recvfrom"),
      "read",
    );
  }

  static {
    openDatagram = (address, options) => {
      const o = checkOptions(options);
      const mode = o.mode === undefined ? 0o600 : checkMode(o.mode, 0o777);
      const max = checkMax(o.maxMessageSize);
      const spin = checkSpin(o.spin, DEFAULT_SPIN);
      const families = { unix: AF_UNIX, ipv4: AF_INET, ipv6: AF_INET6 };
      let family: number;
      if (address !== undefined) family = familyOf(address);
      else if (o.family === undefined) family = AF_UNIX;
      else if (o.family in families) family = families[o.family];
      else {
        throw new TypeError(
          `family must be "unix", "ipv4" or "ipv6", got ${
            JSON.stringify(o.family)
          }`,
        );
      }
      const what = family === AF_UNIX ? "datagram socket" : "UDP socket";
      const s = openSocket(family, "dgram", what);
      makeBlocking(s); // nothing to connect: blocking at once
      let bound: Bound = {};
      try {
        if (address !== undefined) {
          bound = bindSocket(s, address, "dgram", mode, what);
        }
        return new DatagramSocket(s, family, bound, max, false, spin);
      } catch (error) {
        removeBoundFile(bound);
        closeQuietly(s);
        throw error;
      }
    };
  }

  /**
   * Wraps a datagram socket this process holds (one of a pair, received
   * with `receiveFds()`, inherited), taking ownership: `close()` closes it.
   * Raw escape hatch; its family is read from the socket (`SO_DOMAIN`).
   *
   * @example
   * ```ts
   * import { DatagramSocket, socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _b = b;
   * using s = DatagramSocket.fromDescriptor(a.fd);
   * s.sendSync("x");
   * console.log(b.receiveSync().data.length); // 1
   * ```
   *
   * @param fd The descriptor.
   * @param options `maxMessageSize`, `spin`.
   * @returns The socket.
   * @throws {TypeError} For a socket that is not a datagram socket.
   * @throws {IpcError} `ENOTSOCK`, `EBADF`.
   */
  static fromDescriptor(
    fd: number,
    options: Pick<DatagramOptions, "maxMessageSize" | "spin"> = {},
  ): DatagramSocket {
    checkInteger(fd, "fd", 0, 0x7fffffff);
    const o = checkOptions(options);
    const max = checkMax(o.maxMessageSize);
    const spin = checkSpin(o.spin, DEFAULT_SPIN);
    if (socketOption(fd, SO_TYPE) !== SOCK_DGRAM) {
      throw new TypeError(`fd ${fd} is not a datagram socket`);
    }
    const family = socketOption(fd, SO_DOMAIN);
    let connected = true;
    try {
      addressOfSocket(fd, "remote");
    } catch {
      connected = false;
    }
    return new DatagramSocket(fd, family, {}, max, connected, spin);
  }

  /** The address it is bound to (the port chosen, for port 0). */
  get localAddress(): SocketAddress {
    return addressOfSocket(this.descriptor("getsockname"), "local");
  }

  /**
   * The address it is connected to.
   * @throws {IpcError} `ENOTCONN` when not connected.
   */
  get remoteAddress(): SocketAddress {
    return addressOfSocket(this.descriptor("getpeername"), "remote");
  }

  /**
   * Sets the default destination (`send(data)` without `to`) and accepts
   * datagrams only from it.
   *
   * @example
   * ```ts
   * import { bindDatagram } from "@ipckit/ipc/socket";
   *
   * using server = bindDatagram({ hostname: "127.0.0.1", port: 0 });
   * using client = bindDatagram(undefined, { family: "ipv4" });
   * client.connect(server.localAddress as { hostname: string; port: number });
   * client.sendSync("ping");
   * console.log(server.receiveSync().data.length); // 4
   * ```
   *
   * @param to The peer.
   * @throws {IpcError} `ENOENT`/`ECONNREFUSED` for a Unix peer that is not
   *   there.
   */
  connect(to: SocketEndpoint): void {
    const address = checkAddress(to, "to");
    const fd = this.descriptor("connect");
    const { bytes, length } = encodeAddress(address);
    sys(() => libc().connect(fd, bytes, length), {
      syscall: "connect",
      action: "connect datagram socket to",
      path: describeAddress(address),
    });
    this.#connected = true;
  }

  /**
   * Sends one datagram if there is room now: `true` if it went, `false`
   * when it would block.
   *
   * @example
   * ```ts
   * import { bindDatagram } from "@ipckit/ipc/socket";
   *
   * using server = bindDatagram({ hostname: "127.0.0.1", port: 0 });
   * using client = bindDatagram(undefined, { family: "ipv4" });
   * console.log(client.trySend("x", server.localAddress as { hostname: string; port: number })); // true
   * ```
   *
   * @param data The datagram.
   * @param to Where to (not needed once connected).
   * @returns Whether it was sent.
   * @throws {IpcError} `EMSGSIZE` for a datagram too big, `ECONNREFUSED`
   *   or `ENOENT` for a Unix peer that is not there.
   */
  trySend(
    data: ArrayBufferView | ArrayBuffer | string,
    to?: SocketEndpoint,
  ): boolean {
    const [bytes, target] = this.#prepare(data, to);
    return this.#trySend(bytes, target) !== undefined;
  }

  /**
   * Sends one datagram, waiting without blocking the event loop while the
   * receiver (or the socket) is full.
   *
   * @example
   * ```ts
   * import { bindDatagram } from "@ipckit/ipc/socket";
   *
   * using server = bindDatagram({ hostname: "::1", port: 0 });
   * using client = bindDatagram(undefined, { family: "ipv6" });
   * await client.send("ping", server.localAddress as { hostname: string; port: number });
   * console.log((await server.receive({ timeout: 1000 })).data.length); // 4
   * ```
   *
   * @param data The datagram.
   * @param to Where to (not needed once connected).
   * @param options `signal` and `timeout`.
   * @returns A promise that resolves once it was sent.
   * @throws {IpcError} `EMSGSIZE`, `ECONNREFUSED`, `ENOENT`, `EBADF` once closed.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  async send(
    data: ArrayBufferView | ArrayBuffer | string,
    to?: SocketEndpoint,
    options?: WaitOptions,
  ): Promise<void> {
    const [bytes, target] = this.#prepare(data, to);
    if (this.#trySend(bytes, target) !== undefined) return;
    const attempt = () => this.#trySend(bytes, target);
    if (this.#afterYield(attempt) !== undefined) return;
    await waitUntil({
      attempt,
      park: this.#parkWrite(),
      check: () => this.checkOpen("sendto"),
      closing: this.closing,
      what: "room for a datagram",
      spin: this.#spin,
    }, options);
  }

  /**
   * Sends one datagram, blocking the thread while the receiver is full.
   *
   * @example
   * ```ts
   * import { bindDatagram } from "@ipckit/ipc/socket";
   *
   * using server = bindDatagram({ hostname: "127.0.0.1", port: 0 });
   * using client = bindDatagram(undefined, { family: "ipv4" });
   * client.sendSync("ping", server.localAddress as { hostname: string; port: number });
   * console.log(server.receiveSync().data.length); // 4
   * ```
   *
   * @param data The datagram.
   * @param to Where to (not needed once connected).
   * @param options `timeout` in ms.
   * @throws {IpcError} `EMSGSIZE`, `ECONNREFUSED`, `ENOENT`, `EBADF` once closed.
   * @throws {DOMException} `TimeoutError`.
   */
  sendSync(
    data: ArrayBufferView | ArrayBuffer | string,
    to?: SocketEndpoint,
    options?: WaitSyncOptions,
  ): void {
    const [bytes, target] = this.#prepare(data, to);
    if (this.#trySend(bytes, target) !== undefined) return;
    waitUntilSync({
      attempt: () => this.#trySend(bytes, target),
      park: this.#parkWriteSync(),
      check: () => this.checkOpen("sendto"),
      what: "room for a datagram",
    }, options);
  }

  /**
   * The next datagram if one is there, never blocking; `undefined` when
   * none is.
   *
   * @example
   * ```ts
   * import { bindDatagram } from "@ipckit/ipc/socket";
   *
   * using s = bindDatagram({ abstract: `ipckit-doc-${Date.now()}` });
   * console.log(s.tryReceive()); // undefined
   * ```
   *
   * @returns The datagram and its sender, or `undefined`.
   * @throws {IpcError} `EMSGSIZE` for a datagram over `maxMessageSize`
   *   (discarded), `EBADF` once closed.
   */
  tryReceive(): DatagramMessage | undefined {
    return this.#tryReceive();
  }

  /**
   * The next datagram, waiting without blocking the event loop.
   *
   * @example
   * ```ts
   * import { bindDatagram } from "@ipckit/ipc/socket";
   *
   * const name = `ipckit-doc-${Date.now()}`;
   * using s = bindDatagram({ abstract: name });
   * using c = bindDatagram();
   * setTimeout(() => c.sendSync("late", { abstract: name }), 10);
   * const { data } = await s.receive({ timeout: 1000 });
   * console.log(new TextDecoder().decode(data)); // late
   * ```
   *
   * @param options `signal` and `timeout`.
   * @returns The datagram and its sender.
   * @throws {IpcError} `EMSGSIZE` (discarded), `EBADF` when closed.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  receive(options?: WaitOptions): Promise<DatagramMessage> {
    const first = this.#tryReceive() ??
      this.#afterYield(() => this.#tryReceive());
    if (first !== undefined) return Promise.resolve(first);
    return waitUntil({
      attempt: () => this.#tryReceive(),
      park: this.#parkRead,
      check: () => this.checkOpen("recvfrom"),
      closing: this.closing,
      what: "a datagram",
      spin: this.#spin,
    }, options);
  }

  /**
   * The next datagram, blocking the thread (and the event loop).
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _a = a;
   * using _b = b;
   * a.sendSync("one");
   * console.log(b.receiveSync().data.length); // 3
   * ```
   *
   * @param options `timeout` in ms.
   * @returns The datagram and its sender.
   * @throws {IpcError} `EMSGSIZE` (discarded), `EBADF` once closed.
   * @throws {DOMException} `TimeoutError`.
   */
  receiveSync(options?: WaitSyncOptions): DatagramMessage {
    // No timeout: one blocking recvfrom, as C does (see makeBlocking).
    const first = this.#tryReceive(blocksInKernel(options)) ??
      this.#afterYield(() => this.#tryReceive());
    if (first !== undefined) return first;
    return waitUntilSync({
      attempt: () => this.#tryReceive(),
      park: parkOnDescriptorSync(this.#fd, "read"),
      check: () => this.checkOpen("recvfrom"),
      what: "a datagram",
    }, options);
  }

  /**
   * Sends descriptors (`SCM_RIGHTS`) with a datagram (Unix sockets only),
   * waiting without blocking the event loop while the receiver is full.
   * The receiver gets its own descriptors for the same open files.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _a = a;
   * using _b = b;
   * await a.sendFds([0], "stdin");
   * const got = await b.receiveFds({ timeout: 1000 });
   * console.log(got.fds.length, new TextDecoder().decode(got.data)); // 1 stdin
   * ```
   *
   * @param fds 1 to 253 descriptors.
   * @param data The datagram they travel with.
   * @param to Where to (not needed once connected).
   * @param options `signal` and `timeout`.
   * @returns A promise that resolves once it was sent.
   * @throws {TypeError} On a UDP socket.
   * @throws {IpcError} `EBADF` for a descriptor that is not open, `ENOENT`,
   *   `ECONNREFUSED`.
   */
  async sendFds(
    fds: readonly number[],
    data: ArrayBufferView | ArrayBuffer | string = new Uint8Array(0),
    to?: SocketEndpoint,
    options?: WaitOptions,
  ): Promise<void> {
    const [list, bytes, target] = this.#prepareFds(fds, data, to);
    const attempt = () => this.#trySendFds(list, bytes, target);
    if (attempt() !== undefined) return;
    await waitUntil({
      attempt,
      park: this.#parkWrite(),
      check: () => this.checkOpen("sendmsg"),
      closing: this.closing,
      what: "room for a datagram",
      spin: this.#spin,
    }, options);
  }

  /**
   * Sends descriptors with a datagram, blocking the thread while the
   * receiver is full. See {@linkcode DatagramSocket.sendFds}.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _a = a;
   * using _b = b;
   * a.sendFdsSync([0, 1]);
   * console.log(b.receiveFdsSync().fds.length); // 2
   * ```
   *
   * @param fds 1 to 253 descriptors.
   * @param data The datagram they travel with.
   * @param to Where to (not needed once connected).
   * @param options `timeout` in ms.
   * @throws {TypeError} On a UDP socket.
   * @throws {IpcError} `EBADF` for a descriptor that is not open.
   */
  sendFdsSync(
    fds: readonly number[],
    data: ArrayBufferView | ArrayBuffer | string = new Uint8Array(0),
    to?: SocketEndpoint,
    options?: WaitSyncOptions,
  ): void {
    const [list, bytes, target] = this.#prepareFds(fds, data, to);
    const attempt = () => this.#trySendFds(list, bytes, target);
    if (attempt() !== undefined) return;
    waitUntilSync({
      attempt,
      park: this.#parkWriteSync(),
      check: () => this.checkOpen("sendmsg"),
      what: "room for a datagram",
    }, options);
  }

  /**
   * Receives a datagram and the descriptors it carries, if one is there;
   * `undefined` when none is.
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _a = a;
   * using _b = b;
   * console.log(b.tryReceiveFds()); // undefined
   * ```
   *
   * @param options `maxFds`.
   * @returns The descriptors (yours to close), the data and the sender.
   * @throws {IpcError} `EMSGSIZE` for a datagram over `maxMessageSize` (its
   *   descriptors are closed), `EBADF` once closed.
   */
  tryReceiveFds(
    options: { maxFds?: number } = {},
  ): DatagramReceivedFds | undefined {
    return this.#tryReceiveFds(this.#maxFds(options));
  }

  /**
   * Receives a datagram and the descriptors it carries, waiting without
   * blocking the event loop. A plain `receive()` drops descriptors (the
   * kernel closes them).
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _a = a;
   * using _b = b;
   * setTimeout(() => a.sendFdsSync([0], "late"), 10);
   * console.log((await b.receiveFds({ timeout: 1000 })).fds.length); // 1
   * ```
   *
   * @param options `maxFds`, `signal` and `timeout`.
   * @returns The descriptors (yours to close), the data and the sender.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} `EMSGSIZE`, `EBADF` once closed.
   */
  receiveFds(
    options: DatagramReceiveFdsOptions = {},
  ): Promise<DatagramReceivedFds> {
    const maxFds = this.#maxFds(options);
    const attempt = () => this.#tryReceiveFds(maxFds);
    const first = attempt() ?? this.#afterYield(attempt);
    if (first !== undefined) return Promise.resolve(first);
    return waitUntil({
      attempt,
      park: this.#parkRead,
      check: () => this.checkOpen("recvmsg"),
      closing: this.closing,
      what: "a datagram",
      spin: this.#spin,
    }, options);
  }

  /**
   * Receives a datagram and the descriptors it carries, blocking the
   * thread (and the event loop).
   *
   * @example
   * ```ts
   * import { socketPair } from "@ipckit/ipc/socket";
   *
   * const [a, b] = socketPair("dgram");
   * using _a = a;
   * using _b = b;
   * a.sendFdsSync([0], "x");
   * console.log(b.receiveFdsSync().data.length); // 1
   * ```
   *
   * @param options `maxFds` and `timeout`.
   * @returns The descriptors (yours to close), the data and the sender.
   * @throws {DOMException} `TimeoutError`.
   * @throws {IpcError} `EMSGSIZE`, `EBADF` once closed.
   */
  receiveFdsSync(
    options: WaitSyncOptions & { maxFds?: number } = {},
  ): DatagramReceivedFds {
    const maxFds = this.#maxFds(options);
    const attempt = () => this.#tryReceiveFds(maxFds);
    const first = attempt() ?? this.#afterYield(attempt);
    if (first !== undefined) return first;
    return waitUntilSync({
      attempt,
      park: parkOnDescriptorSync(this.#fd, "read"),
      check: () => this.checkOpen("recvmsg"),
      what: "a datagram",
    }, options);
  }

  /** Closes the socket (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Closes the descriptor (and, for a bound path, removes its socket file). */
  protected closeDescriptor(fd: number): void {
    removeBoundFile(this.#bound);
    libc().close(fd);
  }

  /**
   * One more try after giving the CPU away once (see SocketConnection): a
   * peer on this CPU about to answer gets to, without a reactor wake-up.
   */
  #afterYield<T>(attempt: () => T | undefined): T | undefined {
    if (this.#spin === 0) return undefined;
    libc().sched_yield();
    return attempt();
  }

  #maxFds(options: { maxFds?: number }): number {
    const o = checkOptions(options);
    this.checkOpen("recvmsg");
    if (this.#family !== AF_UNIX) {
      throw new TypeError("Descriptors can be passed over Unix sockets only");
    }
    return o.maxFds === undefined
      ? DEFAULT_MAX_FDS
      : checkInteger(o.maxFds, "maxFds", 0, MAX_FDS);
  }

  #prepareFds(
    fds: readonly number[],
    data: ArrayBufferView | ArrayBuffer | string,
    to: SocketEndpoint | undefined,
  ): [
    readonly number[],
    Uint8Array,
    { bytes: Uint8Array; length: number } | undefined,
  ] {
    checkFds(fds);
    if (this.#family !== AF_UNIX) {
      throw new TypeError("Descriptors can be passed over Unix sockets only");
    }
    const [bytes, target] = this.#prepare(data, to);
    return [fds, bytes, target];
  }

  #trySendFds(
    fds: readonly number[],
    bytes: Uint8Array,
    target: { bytes: Uint8Array; length: number } | undefined,
  ): number | undefined {
    const fd = this.descriptor("sendmsg");
    return trySendFds(fd, fds, bytes, {
      syscall: "sendmsg",
      action: "send descriptors in a datagram to",
      path: target === undefined
        ? "the connected peer"
        : describeAddress(decodeAddress(target.bytes, target.length)),
    }, target);
  }

  #tryReceiveFds(maxFds: number): DatagramReceivedFds | undefined {
    const fd = this.descriptor("recvmsg");
    const buffer = scratchBuffer(this.#max).subarray(0, this.#max);
    const got = tryReceiveFds(fd, buffer, maxFds, {
      syscall: "recvmsg",
      action: "receive a datagram on",
      path: "datagram socket",
    }, this.#name);
    if (got === undefined) return undefined;
    if ((got.flags & MSG_TRUNC) !== 0) {
      for (const f of got.fds) libc().close(f);
      throw new IpcError(EMSGSIZE, {
        syscall: "recvmsg",
        action: "receive a datagram on",
        path: "datagram socket",
        hint:
          `The datagram was longer than maxMessageSize (${this.#max}): it was discarded, and its descriptors closed`,
      });
    }
    this.#nameLength[0] = got.nameLength;
    return {
      fds: got.fds,
      data: buffer.slice(0, got.bytes),
      truncated: (got.flags & MSG_CTRUNC) !== 0,
      from: this.#sender(),
    };
  }

  #prepare(
    data: ArrayBufferView | ArrayBuffer | string,
    to: SocketEndpoint | undefined,
  ): [Uint8Array, { bytes: Uint8Array; length: number } | undefined] {
    const bytes = toBytes(data, "data");
    if (to === undefined) {
      this.checkOpen("send");
      return [bytes, undefined];
    }
    // A frozen address (every `from` this socket returns) cannot have
    // changed since it was last encoded: an echo skips the encoding.
    if (to === this.#lastTo && this.#lastTarget !== undefined) {
      this.checkOpen("sendto");
      return [bytes, this.#lastTarget];
    }
    const address = checkAddress(to, "to");
    const family = familyOf(address);
    if (family !== this.#family) {
      throw new TypeError(
        `Cannot send to ${describeAddress(address)} from a ${
          this.#family === AF_UNIX
            ? "Unix"
            : this.#family === AF_INET
            ? "IPv4"
            : "IPv6"
        } socket`,
      );
    }
    this.checkOpen("sendto");
    const target = encodeAddress(address);
    if (Object.isFrozen(to)) {
      this.#lastTo = to;
      this.#lastTarget = target;
    }
    return [bytes, target];
  }

  #trySend(
    bytes: Uint8Array,
    target: { bytes: Uint8Array; length: number } | undefined,
  ): number | undefined {
    const fd = this.descriptor("sendto");
    for (;;) {
      const n = target === undefined
        ? libc().send(fd, bytes, bytes.byteLength, MSG_DONTWAIT | MSG_NOSIGNAL)
        : libc().sendto(
          fd,
          bytes,
          bytes.byteLength,
          MSG_DONTWAIT | MSG_NOSIGNAL,
          target.bytes,
          target.length,
        );
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e === EINTR) continue;
      const failure: IpcErrorOptions = {
        syscall: target === undefined ? "send" : "sendto",
        action: "send a datagram to",
        path: target === undefined
          ? "the connected peer"
          : describeAddress(decodeAddress(target.bytes, target.length)),
      };
      if (e === EMSGSIZE) {
        failure.hint =
          `The datagram is ${bytes.byteLength} bytes, more than the socket takes (SO_SNDBUF for Unix sockets, 65507 bytes for UDP)`;
      }
      throw new IpcError(e, failure);
    }
  }

  // A Unix datagram socket not connected to its receiver cannot tell when
  // that receiver has room (poll reports its own buffer only): back off.
  #parkWrite(): Park {
    return this.#connected || this.#family !== AF_UNIX
      ? parkOnDescriptor(() => this.descriptor("sendto"), "write")
      : parkWithBackoff();
  }

  #parkWriteSync(): ParkSync {
    return this.#connected || this.#family !== AF_UNIX
      ? parkOnDescriptorSync(this.#fd, "write")
      : parkWithBackoffSync();
  }

  /** The sender of the datagram just received: the last one's object when it is the same sender. */
  #sender(): SocketAddress {
    const length = this.#nameLength[0]!;
    const name = this.#name;
    const last = this.#lastName;
    if (length === this.#lastNameLength && this.#lastFrom !== undefined) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (name[i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastFrom;
    }
    const from = Object.freeze(decodeAddress(name, length));
    last.set(name.subarray(0, length));
    this.#lastNameLength = length;
    this.#lastFrom = from;
    return from;
  }

  #tryReceive(block = false): DatagramMessage | undefined {
    const fd = this.descriptor("recvfrom");
    const buffer = scratchBuffer(this.#max);
    for (;;) {
      this.#nameLength[0] = SOCKADDR_MAX;
      const n = libc().recvfrom(
        fd,
        buffer,
        this.#max,
        block ? MSG_TRUNC : MSG_DONTWAIT | MSG_TRUNC,
        this.#name,
        this.#nameLength,
      );
      if (n >= 0) {
        if (n > this.#max) {
          throw new IpcError(EMSGSIZE, {
            syscall: "recvfrom",
            action: "receive a datagram on",
            path: "datagram socket",
            hint:
              `The datagram was ${n} bytes, more than maxMessageSize (${this.#max}): it was discarded`,
          });
        }
        return { data: buffer.slice(0, n), from: this.#sender() };
      }
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e === EINTR) continue;
      throw new IpcError(e, {
        syscall: "recvfrom",
        action: "receive a datagram on",
        path: "datagram socket",
      });
    }
  }
}

/**
 * Opens a datagram socket bound to `address`: a Unix socket file `path`
 * (with `mode`, default `0o600`, from the start; a stale file is reclaimed,
 * a live one is `EADDRINUSE`; removed on close), an `abstract` name, or a
 * UDP `hostname` + `port` (0 picks a free port). Without an address it is
 * unbound (`family` says which kind): it can send, and a Unix one gets
 * replies only once connected to... nothing, so bind one that must receive.
 *
 * See unix(7), udp(7).
 *
 * @example UDP on IPv4
 * ```ts
 * import { bindDatagram } from "@ipckit/ipc/socket";
 *
 * using server = bindDatagram({ hostname: "127.0.0.1", port: 0 });
 * using client = bindDatagram({ hostname: "127.0.0.1", port: 0 });
 * const to = server.localAddress as { hostname: string; port: number };
 * await client.send("ping", to);
 * const { data, from } = await server.receive({ timeout: 1000 });
 * await server.send(data, from as { hostname: string; port: number });
 * console.log((await client.receive({ timeout: 1000 })).data.length); // 4
 * ```
 *
 * @param address Where to bind, or `undefined` for an unbound socket.
 * @param options `mode`, `maxMessageSize`, `family`.
 * @returns The socket.
 * @throws {TypeError} For a bad address or option.
 * @throws {RangeError} For a path over 107 bytes, a bad port or mode.
 * @throws {IpcError} `EADDRINUSE`, `EACCES`, `ENOENT` (a missing directory).
 */
export function bindDatagram(
  address?: SocketEndpoint,
  options: DatagramOptions = {},
): DatagramSocket {
  const checked = address === undefined
    ? undefined
    : checkAddress(address, "address");
  return openDatagram(checked, options);
}
