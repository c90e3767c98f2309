// The shapes every socket API shares: addresses, types, credentials.

/** A Unix socket named by a file path (at most 107 bytes). */
export interface SocketPathAddress {
  /** The socket file's path. */
  readonly path: string;
}

/**
 * A Unix socket in Linux's abstract namespace: no file, gone with the last
 * socket bound to it (at most 107 bytes; written `@name` by `ss` and `netstat`).
 */
export interface SocketAbstractAddress {
  /** The name, without the leading NUL byte. */
  readonly abstract: string;
}

/** A TCP or UDP endpoint: a numeric IPv4 or IPv6 address (or `"localhost"`) and a port. */
export interface SocketInetAddress {
  /** `"127.0.0.1"`, `"::1"`, `"0.0.0.0"`, `"::"` or `"localhost"` (which means 127.0.0.1). */
  readonly hostname: string;
  /** The port; 0 in `listen()` and `bindDatagram()` picks a free one. */
  readonly port: number;
}

/** The address of a Unix socket that was never bound (a client's end, one of a pair). */
export interface SocketUnnamedAddress {
  /** Always `true`. */
  readonly unnamed: true;
}

/** An address that can be bound or connected to. */
export type SocketEndpoint =
  | SocketPathAddress
  | SocketAbstractAddress
  | SocketInetAddress;

/** Any socket address, as reported by `localAddress`, `remoteAddress` and `from`. */
export type SocketAddress = SocketEndpoint | SocketUnnamedAddress;

/**
 * The connection-oriented socket types: `"stream"` (a byte stream: Unix or
 * TCP) and `"seqpacket"` (Unix only: connected, reliable, ordered records
 * with their boundaries kept).
 */
export type SocketConnectionType = "stream" | "seqpacket";

/** The socket types {@linkcode socketPair} makes. */
export type SocketPairType = SocketConnectionType | "dgram";

/** The process at the other end of a Unix socket, as it was when it connected (`SO_PEERCRED`). */
export interface SocketPeerCredentials {
  /** Its process id. */
  readonly pid: number;
  /** Its effective user id. */
  readonly uid: number;
  /** Its effective group id. */
  readonly gid: number;
}

/** What `receiveFds()` returns: the descriptors and the bytes they came with. */
export interface SocketReceivedFds {
  /**
   * The descriptors received, new in this process, close-on-exec. They are
   * yours to close; they share their file position (and `O_NONBLOCK`) with
   * the sender's: read files with `pread`.
   */
  readonly fds: number[];
  /** The bytes sent with them (a record, for seqpacket and datagram sockets). */
  readonly data: Uint8Array;
  /**
   * More descriptors were sent than `maxFds` allowed (`MSG_CTRUNC`): the
   * kernel closed the rest; none leaked.
   */
  readonly truncated: boolean;
}
