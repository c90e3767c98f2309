/**
 * Sockets: Unix stream, seqpacket and datagram sockets (file paths and
 * abstract names), socket pairs, TCP and UDP over IPv4 and IPv6, descriptor
 * passing (`SCM_RIGHTS`) and peer credentials (`SO_PEERCRED`), with one
 * connection API for every transport.
 *
 * Needs only `--allow-ffi` in Deno (no unstable flag): every socket is made
 * and driven through libc, and waits go through ffi's epoll reactor.
 *
 * @example A Unix server and client
 * ```ts
 * import { connect, listen } from "@ipckit/ipc/socket";
 *
 * const path = `/tmp/ipckit-mod-${Date.now()}.sock`;
 * await using server = await listen({ path });
 * await using client = await connect({ path });
 * await using conn = await server.accept();
 * await client.write("ping");
 * console.log(new TextDecoder().decode((await conn.receive())!)); // ping
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./connection.ts";
export * from "./server.ts";
export * from "./connect.ts";
export * from "./datagram.ts";
export * from "./socket_pair.ts";
export * from "./framed.ts";
export * from "./rpc.ts";
export {
  DescriptorHandle,
  Handle,
  IpcError,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";
