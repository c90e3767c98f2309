import {
  checkInteger,
  checkMode,
  checkOptions,
  checkSpin,
  DescriptorHandle,
  errno,
  IpcError,
  libc,
  parkOnDescriptor,
  parkOnDescriptorSync,
  sys,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "../ffi/mod.ts";
import {
  AF_UNIX,
  checkAddress,
  describeAddress,
  familyOf,
} from "./_address.ts";
import {
  addressOfSocket,
  bindSocket,
  type Bound,
  closeQuietly,
  DEFAULT_MAX_RECORD,
  DEFAULT_SPIN,
  openSocket,
  removeBoundFile,
  setNoDelay,
  setReuseAddress,
  SOCK_CLOEXEC,
} from "./_socket.ts";
import { SocketConnection } from "./connection.ts";
import { resolveEndpoint } from "./_resolve.ts";
import type {
  SocketAddress,
  SocketConnectionType,
  SocketEndpoint,
} from "./types.ts";

const EAGAIN = 11;
const EINTR = 4;
/** Errors accept(2) reports for a connection that died in the queue: try the next. */
const TRANSIENT = new Set([103, /* ECONNABORTED */ 71 /* EPROTO */]);
const DEFAULT_BACKLOG = 511;

let openServer: (options: SocketListenOptions) => SocketServer;

/** What to listen on and how; one of `path`, `abstract` or `hostname` + `port`. */
export type SocketListenOptions = SocketEndpoint & {
  /**
   * `"stream"` (Unix or TCP) or `"seqpacket"` (Unix only).
   * @default {"stream"}
   */
  type?: SocketConnectionType;
  /**
   * Permission bits of the socket file (a `path` server); the file has them
   * before any client can connect. Connecting needs write permission.
   * @default {0o600}
   */
  mode?: number;
  /**
   * The length of the queue of connections not yet accepted.
   * @default {511}
   */
  backlog?: number;
  /**
   * The largest seqpacket record connections accept (see
   * `SocketConnectionOptions`).
   * @default {262144}
   */
  maxMessageSize?: number;
  /**
   * Microseconds the connections' async receives retry before parking (see
   * `SocketConnectionOptions`).
   * @default {50}
   */
  spin?: number;
};

/**
 * A listening socket: Unix (a file path or an abstract name) or TCP.
 * Iterate it for connections (`for await (const conn of server)`), or call
 * `accept()`. Closing it stops the iteration, rejects pending accepts with
 * `EBADF` and removes the socket file it made.
 *
 * @example A Unix server and a client in one program
 * ```ts
 * import { connect, listen } from "@ipckit/ipc/socket";
 *
 * const path = `/tmp/ipckit-doc-${Date.now()}.sock`;
 * await using server = await listen({ path });
 * await using client = await connect({ path });
 * await using conn = await server.accept({ timeout: 1000 });
 * await client.write("hello");
 * console.log(new TextDecoder().decode((await conn.receive())!)); // hello
 * ```
 */
export class SocketServer extends DescriptorHandle
  implements AsyncDisposable, AsyncIterable<SocketConnection> {
  /** `"stream"` or `"seqpacket"`. */
  readonly type: SocketConnectionType;
  /** The address it listens on (the port chosen, for port 0). */
  readonly address: SocketAddress;
  readonly #fd: number;
  readonly #family: number;
  readonly #bound: Bound;
  readonly #maxRecord: number;
  readonly #spin: number;
  readonly #parkAccept = parkOnDescriptor(
    () => this.descriptor("accept4"),
    "read",
  );

  private constructor(
    fd: number,
    type: SocketConnectionType,
    family: number,
    bound: Bound,
    maxRecord: number,
    spin: number,
  ) {
    const address = addressOfSocket(fd, "local");
    super(fd, "socket server", describeAddress(address as SocketEndpoint));
    this.#fd = fd;
    this.type = type;
    this.#family = family;
    this.#bound = bound;
    this.#maxRecord = maxRecord;
    this.#spin = spin;
    this.address = address;
  }

  static {
    openServer = (options) => SocketServer.#open(options);
  }

  static #open(options: SocketListenOptions): SocketServer {
    const o = checkOptions(options) as SocketListenOptions;
    const address = checkAddress(o, "options");
    const type = o.type ?? "stream";
    if (type !== "stream" && type !== "seqpacket") {
      throw new TypeError(
        `type must be "stream" or "seqpacket", got ${JSON.stringify(type)}`,
      );
    }
    const family = familyOf(address);
    if (type === "seqpacket" && family !== AF_UNIX) {
      throw new TypeError(
        "seqpacket sockets are Unix sockets: give a path or an abstract name",
      );
    }
    const mode = o.mode === undefined ? 0o600 : checkMode(o.mode, 0o777);
    const backlog = o.backlog === undefined
      ? DEFAULT_BACKLOG
      : checkInteger(o.backlog, "backlog", 0, 0x7fffffff);
    const maxRecord = o.maxMessageSize === undefined
      ? DEFAULT_MAX_RECORD
      : checkInteger(o.maxMessageSize, "maxMessageSize", 1, 0x7fffffff);
    const spin = checkSpin(o.spin, DEFAULT_SPIN);
    const what = `${
      type === "stream" && family !== AF_UNIX ? "TCP" : type
    } server`;
    const fd = openSocket(family, type, what);
    let bound: Bound = {};
    try {
      if (family !== AF_UNIX) setReuseAddress(fd);
      bound = bindSocket(fd, address, type, mode, what);
      sys(() => libc().listen(fd, backlog), {
        syscall: "listen",
        action: `listen on`,
        path: describeAddress(address),
      });
      return new SocketServer(fd, type, family, bound, maxRecord, spin);
    } catch (error) {
      removeBoundFile(bound);
      closeQuietly(fd);
      throw error;
    }
  }

  /**
   * Accepts a connection if one is waiting, never blocking: `undefined`
   * when none is.
   *
   * @example
   * ```ts
   * import { listen } from "@ipckit/ipc/socket";
   *
   * await using server = await listen({ abstract: `ipckit-doc-${Date.now()}` });
   * console.log(server.tryAccept()); // undefined
   * ```
   *
   * @returns The connection, or `undefined`.
   * @throws {IpcError} `EMFILE` (too many descriptors), `EBADF` once closed.
   */
  tryAccept(): SocketConnection | undefined {
    const fd = this.descriptor("accept4");
    for (;;) {
      // Blocking (see makeBlocking): data calls pass MSG_DONTWAIT.
      const c = libc().accept4(fd, null, null, SOCK_CLOEXEC);
      if (c >= 0) return this.#wrap(c);
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e === EINTR || TRANSIENT.has(e)) continue;
      throw new IpcError(e, {
        syscall: "accept4",
        action: "accept a connection on",
        path: describeAddress(this.address as SocketEndpoint),
      });
    }
  }

  /**
   * Waits for a connection without blocking the event loop.
   *
   * @example
   * ```ts
   * import { connect, listen } from "@ipckit/ipc/socket";
   *
   * const name = `ipckit-doc-${Date.now()}`;
   * await using server = await listen({ abstract: name });
   * await using client = await connect({ abstract: name });
   * await using conn = await server.accept({ timeout: 1000 });
   * console.log(conn.peer.pid > 0); // true
   * ```
   *
   * @param options `signal` and `timeout`.
   * @returns The connection.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   * @throws {IpcError} `EBADF` when the server closes.
   */
  accept(options?: WaitOptions): Promise<SocketConnection> {
    const first = this.tryAccept();
    if (first !== undefined) return Promise.resolve(first);
    return waitUntil({
      attempt: () => this.tryAccept(),
      park: this.#parkAccept,
      check: () => this.checkOpen("accept4"),
      closing: this.closing,
      what: "a connection",
    }, options);
  }

  /**
   * Waits for a connection, blocking the thread (and the event loop).
   *
   * @example
   * ```ts
   * import { connect, listen } from "@ipckit/ipc/socket";
   *
   * const name = `ipckit-doc-${Date.now()}`;
   * using server = await listen({ abstract: name });
   * using client = await connect({ abstract: name });
   * using conn = server.acceptSync({ timeout: 1000 });
   * console.log(conn.type); // stream
   * ```
   *
   * @param options `timeout` in ms.
   * @returns The connection.
   * @throws {DOMException} `TimeoutError`.
   */
  acceptSync(options?: WaitSyncOptions): SocketConnection {
    return waitUntilSync({
      attempt: () => this.tryAccept(),
      park: parkOnDescriptorSync(this.#fd, "read"),
      check: () => this.checkOpen("accept4"),
      what: "a connection",
    }, options);
  }

  /**
   * The connections, as they come; the iteration ends when the server
   * closes.
   *
   * @example
   * ```ts
   * import { connect, listen } from "@ipckit/ipc/socket";
   *
   * const name = `ipckit-doc-${Date.now()}`;
   * const server = await listen({ abstract: name });
   * (await connect({ abstract: name })).close();
   * for await (const conn of server) {
   *   conn.close();
   *   server.close(); // ends the loop
   * }
   * ```
   *
   * @returns An async iterator of connections.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<SocketConnection> {
    while (!this.closed) {
      let conn: SocketConnection;
      try {
        conn = await this.accept();
      } catch (error) {
        if (this.closed) return;
        throw error;
      }
      yield conn;
    }
  }

  /** Closes the server (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Closes the descriptor (and, for a bound path, removes its socket file). */
  protected closeDescriptor(fd: number): void {
    removeBoundFile(this.#bound);
    libc().close(fd);
  }

  #wrap(fd: number): SocketConnection {
    try {
      if (this.#family !== AF_UNIX) setNoDelay(fd);
      return SocketConnection.fromDescriptor(fd, {
        maxMessageSize: this.#maxRecord,
        spin: this.#spin,
      });
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
  }
}

/**
 * Listens on a Unix socket (a file `path` or an `abstract` name) or a TCP
 * port (`hostname` + `port`; a host name is looked up with `node:dns`,
 * which Deno allows with `--allow-net`).
 *
 * A `path` server's socket file gets `mode` (default `0o600`: only this
 * user may connect) before any client can connect: the socket is given the
 * mode before `bind`, which creates the file with it. A stale socket file
 * (no server behind it: a crashed process) is removed and bound again; a
 * live one fails with `EADDRINUSE`, and so does a path that is not a
 * socket. The file is removed when the server closes (if it is still the
 * one it made).
 *
 * See unix(7), tcp(7), listen(2).
 *
 * @example A Unix stream server
 * ```ts
 * import { connect, listen } from "@ipckit/ipc/socket";
 *
 * const path = `/tmp/ipckit-doc-${Date.now()}.sock`;
 * await using server = await listen({ path, mode: 0o600 });
 * await using client = await connect({ path });
 * await using conn = await server.accept();
 * console.log(conn.peer.uid === client.peer.uid); // true
 * ```
 *
 * @param options Where to listen, the socket type, file mode and backlog.
 * @returns The server.
 * @throws {TypeError} For a bad address or option.
 * @throws {RangeError} For a path over 107 bytes, a bad mode or port.
 * @throws {IpcError} `EADDRINUSE` (a live server, or a file that is not a
 *   socket), `EACCES`, `ENOENT` (a missing directory).
 */
export async function listen(
  options: SocketListenOptions,
): Promise<SocketServer> {
  const o = checkOptions(options) as SocketListenOptions;
  const address = await resolveEndpoint(checkAddress(o, "options", true));
  return openServer({ ...o, ...address } as SocketListenOptions);
}
