import { libc, sys } from "../ffi/mod.ts";
import { AF_UNIX } from "./_address.ts";
import { closeQuietly, SOCK_CLOEXEC, TYPE_OF } from "./_socket.ts";
import { SocketConnection } from "./connection.ts";
import { DatagramSocket } from "./datagram.ts";
import type { SocketConnectionType, SocketPairType } from "./types.ts";

/**
 * Two connected Unix sockets (socketpair(2)): for talking to a child
 * process (hand it one end's `fd`), or between parts of one program.
 * `"stream"` and `"seqpacket"` give {@linkcode SocketConnection}s,
 * `"dgram"` gives {@linkcode DatagramSocket}s connected to each other.
 *
 * @example
 * ```ts
 * import { socketPair } from "@ipckit/ipc/socket";
 *
 * const [a, b] = socketPair("stream");
 * using _a = a;
 * using _b = b;
 * a.writeSync("ping");
 * console.log(new TextDecoder().decode(b.receiveSync()!)); // ping
 * ```
 *
 * @param type The socket type.
 * @returns The two ends.
 * @throws {TypeError} For an unknown type.
 * @throws {IpcError} `EMFILE` when out of descriptors.
 */
export function socketPair(
  type: SocketConnectionType,
): [SocketConnection, SocketConnection];
/**
 * Two connected Unix datagram sockets (socketpair(2)).
 *
 * @example
 * ```ts
 * import { socketPair } from "@ipckit/ipc/socket";
 *
 * const [a, b] = socketPair("dgram");
 * using _a = a;
 * using _b = b;
 * a.sendSync("ping");
 * console.log(b.receiveSync().data.length); // 4
 * ```
 *
 * @param type `"dgram"`.
 * @returns The two ends.
 */
export function socketPair(type: "dgram"): [DatagramSocket, DatagramSocket];
/**
 * Two connected Unix sockets of `type` (socketpair(2)).
 *
 * @example
 * ```ts
 * import { socketPair } from "@ipckit/ipc/socket";
 *
 * const type = Math.random() < 2 ? "seqpacket" : "dgram";
 * const [a, b] = socketPair(type);
 * a.close();
 * b.close();
 * ```
 *
 * @param type The socket type.
 * @returns The two ends.
 */
export function socketPair(
  type: SocketPairType,
): [SocketConnection, SocketConnection] | [DatagramSocket, DatagramSocket];
export function socketPair(
  type: SocketPairType,
): [SocketConnection, SocketConnection] | [DatagramSocket, DatagramSocket] {
  if (type !== "stream" && type !== "seqpacket" && type !== "dgram") {
    throw new TypeError(
      `type must be "stream", "seqpacket" or "dgram", got ${
        JSON.stringify(type)
      }`,
    );
  }
  const fds = new Int32Array(2);
  sys(
    () =>
      libc().socketpair(
        AF_UNIX,
        TYPE_OF[type] | SOCK_CLOEXEC, // blocking: see makeBlocking
        0,
        fds,
      ),
    { syscall: "socketpair", action: `create a ${type} socket pair` },
  );
  const [x, y] = [fds[0]!, fds[1]!];
  const wrap = type === "dgram"
    ? (fd: number) => DatagramSocket.fromDescriptor(fd)
    : (fd: number) => SocketConnection.fromDescriptor(fd);
  let a: SocketConnection | DatagramSocket;
  try {
    a = wrap(x);
  } catch (error) {
    closeQuietly(x);
    closeQuietly(y);
    throw error;
  }
  try {
    return [a, wrap(y)] as
      | [SocketConnection, SocketConnection]
      | [DatagramSocket, DatagramSocket];
  } catch (error) {
    a.close();
    closeQuietly(y);
    throw error;
  }
}
