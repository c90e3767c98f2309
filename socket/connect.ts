import {
  checkOptions,
  checkSignal,
  checkTimeout,
  IpcError,
  libc,
  parkOnDescriptor,
  parkWithBackoff,
  waitUntil,
} from "../ffi/mod.ts";
import {
  AF_UNIX,
  checkAddress,
  describeAddress,
  familyOf,
} from "./_address.ts";
import {
  closeQuietly,
  makeBlocking,
  openSocket,
  pendingError,
  setNoDelay,
  startConnect,
} from "./_socket.ts";
import { SocketConnection } from "./connection.ts";
import { resolveEndpoint } from "./_resolve.ts";
import type { SocketConnectionType, SocketEndpoint } from "./types.ts";

/** Where to connect and how; one of `path`, `abstract` or `hostname` + `port`. */
export type SocketConnectOptions = SocketEndpoint & {
  /**
   * `"stream"` (Unix or TCP) or `"seqpacket"` (Unix only).
   * @default {"stream"}
   */
  type?: SocketConnectionType;
  /** Cancels the attempt; it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Gives up after this many milliseconds (`TimeoutError`).
   * @default {no limit}
   */
  timeout?: number;
  /**
   * The largest seqpacket record the connection accepts.
   * @default {262144}
   */
  maxMessageSize?: number;
  /**
   * Microseconds the connection's async receives retry before parking (see
   * `SocketConnectionOptions`).
   * @default {50}
   */
  spin?: number;
};

/**
 * Connects to a Unix socket (a file `path` or an `abstract` name) or a TCP
 * server (`hostname` + `port`: a numeric IPv4 or IPv6 address, or a name,
 * looked up with `node:dns`, which Deno allows with `--allow-net`), without
 * blocking the event loop. TCP connections have Nagle's algorithm
 * off (`TCP_NODELAY`).
 *
 * See connect(2), unix(7), tcp(7).
 *
 * @example
 * ```ts
 * import { connect, listen } from "@ipckit/ipc/socket";
 *
 * await using server = await listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = server.address as { port: number };
 * await using client = await connect({ hostname: "127.0.0.1", port, timeout: 1000 });
 * console.log(client.remoteAddress); // { hostname: "127.0.0.1", port: ... }
 * ```
 *
 * @param options Where to connect, the socket type, `signal`, `timeout`.
 * @returns The connection.
 * @throws {TypeError} For a bad address or option.
 * @throws {RangeError} For a path over 107 bytes.
 * @throws {Error} `ENOTFOUND` (`code`) for a host name that does not resolve.
 * @throws {IpcError} `ENOENT` (no socket file), `ECONNREFUSED` (nothing
 *   listening), `EACCES` (the file's mode), `EPROTOTYPE` (another socket
 *   type), `ETIMEDOUT`.
 * @throws {DOMException} `TimeoutError`, or the signal's reason.
 */
export async function connect(
  options: SocketConnectOptions,
): Promise<SocketConnection> {
  const o = checkOptions(options) as SocketConnectOptions;
  const address = await resolveEndpoint(checkAddress(o, "options", true));
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
  const wait = {
    timeout: checkTimeout(o.timeout),
    signal: checkSignal(o.signal),
  };
  const what = `${
    type === "stream" && family !== AF_UNIX ? "TCP" : type
  } socket`;
  const fd = openSocket(family, type, what);
  let closed = false;
  try {
    let state = startConnect(fd, address, what);
    if (state === "again") {
      // A Unix server's queue is full: try again after a pause.
      state = await waitUntil({
        attempt: () => {
          const s = startConnect(fd, address, what);
          return s === "again" ? undefined : s;
        },
        park: parkWithBackoff(),
        check: () => {},
        what: `a place in ${describeAddress(address)}'s queue`,
      }, withoutUndefined(wait));
    }
    if (state === "in-progress") {
      await waitUntil({
        attempt: () => {
          const e = pendingError(fd);
          if (e !== 0) {
            throw new IpcError(e, {
              syscall: "connect",
              action: `connect ${what} to`,
              path: describeAddress(address),
            });
          }
          // Connected once the socket is writable and has no error; poll
          // (no wait) says whether it is.
          const p = new Int32Array([fd, 0x4]);
          return libc().poll(p, 1, 0) > 0 ? true : undefined;
        },
        park: parkOnDescriptor(fd, "write"),
        check: () => {},
        what: `connecting to ${describeAddress(address)}`,
      }, withoutUndefined(wait));
    }
    if (family !== AF_UNIX) setNoDelay(fd);
    makeBlocking(fd);
    const conn = SocketConnection.fromDescriptor(fd, {
      maxMessageSize: o.maxMessageSize,
      spin: o.spin,
    });
    closed = true; // owned by the connection now
    return conn;
  } finally {
    if (!closed) closeQuietly(fd);
  }
}

function withoutUndefined(
  wait: { timeout: number | undefined; signal: AbortSignal | undefined },
): { timeout?: number; signal?: AbortSignal } {
  const out: { timeout?: number; signal?: AbortSignal } = {};
  if (wait.timeout !== undefined) out.timeout = wait.timeout;
  if (wait.signal !== undefined) out.signal = wait.signal;
  return out;
}
