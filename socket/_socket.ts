// The socket calls every class shares: creating, binding (with the file's
// mode and stale-file reclaim), addresses, credentials, and the messages
// that carry descriptors (struct msghdr built in buffers).
import {
  addressOf,
  checkInteger,
  errno,
  forgetDescriptor,
  IpcError,
  type IpcErrorOptions,
  libc,
  retryAfterFailure,
  statPath,
  sys,
} from "../ffi/mod.ts";
import {
  AF_UNIX,
  decodeAddress,
  describeAddress,
  encodeAddress,
  SOCKADDR_MAX,
} from "./_address.ts";
import type {
  SocketAddress,
  SocketEndpoint,
  SocketPeerCredentials,
} from "./types.ts";

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const SHUT_WR = 1;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const SO_PEERCRED = 17;
const SCM_RIGHTS = 1;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const EAGAIN = 11;
const EINTR = 4;
const EADDRINUSE = 98;
const ECONNREFUSED = 111;
const S_IFSOCK = 0o140000;
/** The largest seqpacket record `receive()` accepts by default. */
export const DEFAULT_MAX_RECORD = 262144;
/** Microseconds async calls retry before parking, by default. */
export const DEFAULT_SPIN = 50;
/** The most descriptors one message may carry (SCM_MAX_FD). */
export const MAX_FDS = 253;

export type SocketKind = "stream" | "seqpacket" | "dgram";

export const TYPE_OF: Record<SocketKind, number> = {
  stream: SOCK_STREAM,
  seqpacket: SOCK_SEQPACKET,
  dgram: SOCK_DGRAM,
};

/** A new non-blocking, close-on-exec socket. */
export function openSocket(
  family: number,
  kind: SocketKind,
  what: string,
): number {
  return sys(
    () =>
      libc().socket(family, TYPE_OF[kind] | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
    { syscall: "socket", action: `create ${what}` },
  );
}

/**
 * Clears `O_NONBLOCK` on a socket of ours nobody else holds yet (made
 * non-blocking only to connect without blocking): every async and try call
 * passes MSG_DONTWAIT, and a sync call without a timeout is then one
 * blocking call, as in C.
 */
export function makeBlocking(fd: number): void {
  const F_GETFL = 3;
  const F_SETFL = 4;
  const O_NONBLOCK = 0o4000;
  const flags = libc().fcntl(fd, F_GETFL, 0);
  if (flags >= 0 && (flags & O_NONBLOCK) !== 0) {
    libc().fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
}

/** Checks a list of descriptors to pass: 1 to MAX_FDS integers. */
export function checkFds(fds: unknown): readonly number[] {
  if (!Array.isArray(fds)) {
    throw new TypeError("fds must be an array of file descriptors");
  }
  if (fds.length === 0 || fds.length > MAX_FDS) {
    throw new RangeError(
      `fds must hold 1 to ${MAX_FDS} descriptors (SCM_MAX_FD), got ${fds.length}`,
    );
  }
  for (const fd of fds) checkInteger(fd, "each fd", 0, 0x7fffffff);
  return fds as number[];
}

/**
 * Whether a sync receive may block in the kernel (on a blocking socket of
 * ours): options that are valid and give no timeout.
 */
export function blocksInKernel(
  options: { timeout?: number | undefined } | undefined,
): boolean {
  return options === undefined ||
    (typeof options === "object" && options !== null &&
      options.timeout === undefined);
}

/** Closes a descriptor, ignoring errors (for clean-up paths). */
export function closeQuietly(fd: number): void {
  forgetDescriptor(fd, new Error("closed"));
  libc().close(fd);
}

/** An integer socket option (`SO_TYPE`, `SO_DOMAIN`, ...). */
export function socketOption(fd: number, name: number): number {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  sys(() => libc().getsockopt(fd, SOL_SOCKET, name, value, length), {
    syscall: "getsockopt",
    action: "inspect socket",
    path: String(fd),
  });
  return value[0]!;
}

/** Turns Nagle off on a TCP socket (round trips, not batching). */
export function setNoDelay(fd: number): void {
  libc().setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Int32Array([1]), 4);
}

/** Lets a TCP server rebind its port at once after a restart. */
export function setReuseAddress(fd: number): void {
  libc().setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, new Int32Array([1]), 4);
}

/** The pending error of a socket (`SO_ERROR`), 0 when none. */
export function pendingError(fd: number): number {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  sys(() => libc().getsockopt(fd, SOL_SOCKET, SO_ERROR, value, length), {
    syscall: "getsockopt",
  });
  return value[0]!;
}

/** What a bind did: the file it made (to remove on close), if any. */
export interface Bound {
  /** The path of the socket file, and its inode, when bound to a path. */
  file?: { path: string; dev: bigint; ino: bigint } | undefined;
}

/**
 * Binds `fd` to `address`. For a path: the file gets `mode` from the
 * start (fchmod before bind: the kernel gives the new file the socket's
 * mode less the umask, so it is never more open than asked; bits the umask
 * took are added back with chmod), and a stale file (a socket with no
 * listener behind it) is removed and bound again; a live one is
 * `EADDRINUSE`.
 */
export function bindSocket(
  fd: number,
  address: SocketEndpoint,
  kind: SocketKind,
  mode: number,
  what: string,
): Bound {
  const { bytes, length } = encodeAddress(address);
  const failure: IpcErrorOptions = {
    syscall: "bind",
    action: `bind ${what} to`,
    path: describeAddress(address),
  };
  if (!("path" in address)) {
    sys(() => libc().bind(fd, bytes, length), failure);
    return {};
  }
  sys(() => libc().fchmod(fd, mode), { ...failure, syscall: "fchmod" });
  let reclaimed = false;
  for (;;) {
    if (libc().bind(fd, bytes, length) === 0) break;
    const e = errno();
    if (e === EINTR) continue;
    if (e !== EADDRINUSE || reclaimed) throw new IpcError(e, failure);
    const why = staleSocket(address.path, kind);
    if (why !== undefined) throw new IpcError(e, { ...failure, hint: why });
    if (libc().unlink(encodeAddress(address).bytes.subarray(2)) === -1) {
      const u = errno();
      if (u !== 2) {
        throw new IpcError(u, {
          syscall: "unlink",
          action: "remove stale socket file",
          path: address.path,
        });
      }
    }
    reclaimed = true;
  }
  try {
    let status = statPath(address.path, failure);
    if (status.mode !== mode) {
      sys(() => libc().chmod(encodeAddress(address).bytes.subarray(2), mode), {
        ...failure,
        syscall: "chmod",
      });
      status = statPath(address.path, failure);
    }
    return { file: { path: address.path, dev: status.dev, ino: status.ino } };
  } catch (error) {
    libc().unlink(encodeAddress(address).bytes.subarray(2));
    throw error;
  }
}

/**
 * Whether the file at `path` is a stale socket: `undefined` when it is
 * (nothing answers a connect), or why it must be left alone.
 */
function staleSocket(path: string, kind: SocketKind): string | undefined {
  let type: number;
  try {
    type = statPath(path).type;
  } catch {
    return undefined; // gone already: bind again
  }
  if (type !== S_IFSOCK) {
    return "The path exists and is not a socket: remove it or pick another path";
  }
  const probe = libc().socket(
    AF_UNIX,
    TYPE_OF[kind] | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  if (probe === -1) return "Cannot tell whether it is in use";
  try {
    const { bytes, length } = encodeAddress({ path });
    while (libc().connect(probe, bytes, length) === -1) {
      const e = errno();
      if (e === EINTR) continue;
      // Only a refusal (or the file gone meanwhile) says nobody listens:
      // EACCES (another user's 0600 socket) and the rest must not make
      // us delete a live socket's file.
      if (e === ECONNREFUSED || e === 2 /* ENOENT */) return undefined;
      if (e === 91 /* EPROTOTYPE: another socket type */ || e === EAGAIN) {
        break;
      }
      return "Cannot tell whether it is in use";
    }
    return "Another socket is bound there and in use";
  } finally {
    libc().close(probe);
  }
}

/** Removes the socket file of `bound`, if it is still the one we made. */
export function removeBoundFile(bound: Bound): void {
  const file = bound.file;
  if (file === undefined) return;
  bound.file = undefined;
  try {
    const status = statPath(file.path);
    if (status.dev !== file.dev || status.ino !== file.ino) return;
  } catch {
    return;
  }
  const { bytes } = encodeAddress({ path: file.path });
  libc().unlink(bytes.subarray(2));
}

/** Connects a non-blocking socket: connected, in progress, or to try again. */
export function startConnect(
  fd: number,
  address: SocketEndpoint,
  what: string,
): "connected" | "in-progress" | "again" {
  const { bytes, length } = encodeAddress(address);
  for (;;) {
    if (libc().connect(fd, bytes, length) === 0) return "connected";
    const e = errno();
    if (e === EINTR) continue;
    if (e === 115 /* EINPROGRESS */) return "in-progress";
    if (e === EAGAIN) return "again"; // a Unix server's backlog is full
    throw new IpcError(e, {
      syscall: "connect",
      action: `connect ${what} to`,
      path: describeAddress(address),
      hint: e === 2
        ? "Nothing is listening there (no such socket file)"
        : e === ECONNREFUSED
        ? "Nothing is listening there"
        : undefined,
    });
  }
}

/** The family an endpoint needs. */

/** getsockname(2) or getpeername(2), decoded. */
export function addressOfSocket(
  fd: number,
  which: "local" | "remote",
): SocketAddress {
  const bytes = new Uint8Array(SOCKADDR_MAX);
  const length = new Uint32Array([SOCKADDR_MAX]);
  const syscall = which === "local" ? "getsockname" : "getpeername";
  sys(
    () =>
      which === "local"
        ? libc().getsockname(fd, bytes, length)
        : libc().getpeername(fd, bytes, length),
    { syscall },
  );
  return decodeAddress(bytes, length[0]!);
}

/** The credentials of the peer process (`SO_PEERCRED`). */
export function peerCredentialsOf(fd: number): SocketPeerCredentials {
  const value = new Int32Array(3);
  const length = new Uint32Array([12]);
  sys(() => libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, length), {
    syscall: "getsockopt",
    action: "read peer credentials (SO_PEERCRED) of",
    path: "socket",
  });
  return { pid: value[0]!, uid: value[1]! >>> 0, gid: value[2]! >>> 0 };
}

// struct msghdr (x86_64 and aarch64): name*, namelen (+pad), iov*, iovlen,
// control*, controllen, flags (+pad): 56 bytes. struct iovec: base*, len.
// struct cmsghdr: len (size_t), level, type, then data.
const MSGHDR_SIZE = 56;
const CMSG_HEADER = 16;
const msghdr = new Uint8Array(MSGHDR_SIZE);
const msghdrView = new DataView(msghdr.buffer);
const iovec = new Uint8Array(16);
const iovecView = new DataView(iovec.buffer);
const oneByte = new Uint8Array(1);

function cmsgSpace(bytes: number): number {
  return CMSG_HEADER + ((bytes + 7) & ~7);
}

function fillMessage(
  data: Uint8Array,
  control: Uint8Array | undefined,
  controlLength: number,
  name?: Uint8Array,
  nameLength = 0,
): void {
  msghdr.fill(0);
  if (name !== undefined) {
    msghdrView.setBigUint64(0, BigInt(addressOf(name)), true);
    msghdrView.setUint32(8, nameLength, true);
  }
  const base = data.byteLength === 0 ? oneByte : data;
  iovecView.setBigUint64(0, BigInt(addressOf(base)), true);
  iovecView.setBigUint64(8, BigInt(data.byteLength), true);
  msghdrView.setBigUint64(16, BigInt(addressOf(iovec)), true);
  msghdrView.setBigUint64(24, 1n, true);
  if (control !== undefined) {
    msghdrView.setBigUint64(32, BigInt(addressOf(control)), true);
    msghdrView.setBigUint64(40, BigInt(controlLength), true);
  }
}

/**
 * One non-blocking sendmsg of `data` with `fds` (SCM_RIGHTS): the bytes
 * sent, or `undefined` when it would block.
 */
export function trySendFds(
  fd: number,
  fds: readonly number[],
  data: Uint8Array,
  failure: IpcErrorOptions,
  to?: { bytes: Uint8Array; length: number },
): number | undefined {
  const space = cmsgSpace(fds.length * 4);
  const control = new Uint8Array(space);
  const view = new DataView(control.buffer);
  view.setBigUint64(0, BigInt(CMSG_HEADER + fds.length * 4), true);
  view.setInt32(8, SOL_SOCKET, true);
  view.setInt32(12, SCM_RIGHTS, true);
  for (let i = 0; i < fds.length; i++) {
    view.setInt32(CMSG_HEADER + 4 * i, fds[i]!, true);
  }
  for (;;) {
    fillMessage(data, control, space, to?.bytes, to?.length);
    const n = libc().sendmsg(fd, msghdr, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return undefined;
    if (e !== EINTR) throw new IpcError(e, failure);
  }
}

/** What one recvmsg got. */
export interface Received {
  bytes: number;
  fds: number[];
  flags: number;
  /** The sender's address length, when a name buffer was given. */
  nameLength: number;
}

/**
 * One non-blocking recvmsg into `buffer`, with room for `maxFds`
 * descriptors (received close-on-exec): `undefined` when it would block.
 */
export function tryReceiveFds(
  fd: number,
  buffer: Uint8Array,
  maxFds: number,
  failure: IpcErrorOptions,
  name?: Uint8Array,
): Received | undefined {
  const space = cmsgSpace(Math.max(1, maxFds) * 4);
  const control = new Uint8Array(space);
  let n: number;
  for (;;) {
    fillMessage(buffer, control, space, name, name?.byteLength ?? 0);
    n = libc().recvmsg(fd, msghdr, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno() === EAGAIN) return undefined;
    retryAfterFailure(failure);
  }
  const flags = msghdrView.getInt32(48, true);
  const nameLength = msghdrView.getUint32(8, true);
  const controlLength = Number(msghdrView.getBigUint64(40, true));
  const view = new DataView(control.buffer);
  const fds: number[] = [];
  for (let at = 0; at + CMSG_HEADER <= controlLength;) {
    const length = Number(view.getBigUint64(at, true));
    if (length < CMSG_HEADER) break;
    const level = view.getInt32(at + 8, true);
    const type = view.getInt32(at + 12, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let i = at + CMSG_HEADER; i + 4 <= at + length; i += 4) {
        fds.push(view.getInt32(i, true));
      }
    }
    at += (length + 7) & ~7;
  }
  // More than the caller asked for cannot arrive (the kernel closes what
  // does not fit and sets MSG_CTRUNC); a control buffer rounded up to 8
  // bytes may hold one more: close it rather than hand out more than asked.
  let reported = flags;
  if (fds.length > maxFds) {
    while (fds.length > maxFds) libc().close(fds.pop()!);
    reported |= MSG_CTRUNC;
  }
  return { bytes: n, fds, flags: reported, nameLength };
}

/** A scratch buffer for receives that copy out (grown on demand). */
let scratch = new Uint8Array(0);
export function scratchBuffer(size: number): Uint8Array {
  if (scratch.byteLength < size) scratch = new Uint8Array(size);
  return scratch;
}
