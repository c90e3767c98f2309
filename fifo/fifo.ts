// Named pipes: mkfifo(3), opening either end without blocking the event
// loop, reading and writing as a pipe does, and removal that touches only a
// FIFO.
import {
  checkBoolean,
  checkMode,
  checkOptions,
  checkSpin,
  cString,
  DEFAULT_DESCRIPTOR_SPIN,
  describeValue,
  DescriptorReader,
  DescriptorWriter,
  errno,
  IpcError,
  libc,
  parkWithBackoff,
  pipePacketFlag,
  pollDescriptorSync,
  statDescriptor,
  sys,
  type WaitOptions,
  waitUntil,
} from "../ffi/mod.ts";

const EINTR = 4;
const EAGAIN = 11;
const ENXIO = 6;
const EEXIST = 17;
const O_WRONLY = 0o1;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const F_GETFL = 3;
const F_SETFL = 4;
const S_IFIFO = 0o010000;

/** `O_NOFOLLOW` differs between the architectures (as `O_DIRECT` does). */
function oNoFollow(): number {
  return pipePacketFlag() === 0o40000 ? 0o400000 : 0o100000;
}

const TYPES: Record<number, string> = {
  0o140000: "a socket",
  0o120000: "a symbolic link",
  0o100000: "a regular file",
  0o060000: "a block device",
  0o040000: "a directory",
  0o020000: "a character device",
};

function checkPath(path: unknown): string {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(
      `path must be a non-empty string, got ${describeValue(path)}`,
    );
  }
  cString(path); // a NUL is a TypeError
  return path;
}

/** The file type at `path` itself (a symlink is not followed). */
function typeAt(path: string, action: string): number {
  const fd = sys(
    () => libc().open(cString(path), O_PATH | oNoFollow() | O_CLOEXEC, 0),
    { syscall: "open", path, action },
    (code) =>
      code === "ENOENT" ? "Create it with createFifo() first" : undefined,
  );
  try {
    return statDescriptor(fd, { syscall: "fstat", path, action }).type;
  } finally {
    libc().close(fd);
  }
}

function notFifo(path: string, type: number, action: string, code = "EINVAL") {
  return new IpcError(code, {
    syscall: "open",
    path,
    action,
    hint: `It is ${TYPES[type] ?? "not a FIFO"}, not a FIFO`,
  });
}

/** Options of {@linkcode createFifo}. */
export interface CreateFifoOptions {
  /**
   * Permission bits, as for open(2) (the process's umask applies).
   * @default {0o600}
   */
  mode?: number;
  /**
   * When a FIFO already exists at the path, use it instead of failing with
   * `EEXIST`. Anything else at the path (a regular file, a directory, a
   * symbolic link, even one to a FIFO) still fails with `EEXIST`.
   * @default {false}
   */
  reuse?: boolean;
}

/**
 * Makes a FIFO (named pipe) at `path` with mkfifo(3). It stays until
 * {@linkcode removeFifo} removes it: closing a handle does not.
 * See fifo(7).
 *
 * @example Making, reusing and removing a FIFO
 * ```ts
 * import { createFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/jobs-${Date.now()}.fifo`;
 * console.log(createFifo(path)); // true
 * console.log(createFifo(path, { reuse: true })); // false: it was there
 * removeFifo(path);
 * ```
 *
 * @param path Where to make it.
 * @param options `mode` and `reuse`.
 * @returns `true` when it made the FIFO, `false` when it reused one.
 * @throws {IpcError} `EEXIST` (something is there; a non-FIFO even with
 *   `reuse`), `ENOENT` (no such directory), `EACCES`.
 * @throws {TypeError} A path that is not a string or contains NUL.
 */
export function createFifo(path: string, options?: CreateFifoOptions): boolean {
  const p = checkPath(path);
  const o = checkOptions(options);
  const mode = o.mode === undefined ? 0o600 : checkMode(o.mode, 0o777);
  const reuse = checkBoolean(o.reuse, "reuse", false);
  const action = "create FIFO";
  for (;;) {
    if (libc().mkfifo(cString(p), mode) === 0) return true;
    const e = errno();
    if (e === EINTR) continue;
    if (e !== EEXIST) {
      throw new IpcError(e, { syscall: "mkfifo", path: p, action });
    }
    let type: number;
    try {
      type = typeAt(p, action);
    } catch (error) {
      // Removed between mkfifo and the look: try again.
      if (error instanceof IpcError && error.code === "ENOENT") continue;
      throw error;
    }
    if (type !== S_IFIFO) throw notFifo(p, type, action, "EEXIST");
    if (reuse) return false;
    throw new IpcError(e, {
      syscall: "mkfifo",
      path: p,
      action,
      hint:
        "A FIFO is there: pass { reuse: true } to use it, or removeFifo() it first",
    });
  }
}

/**
 * Removes the FIFO at `path` (unlink(2)), and only a FIFO: a regular file,
 * a directory or a symbolic link there is left alone. Processes that have
 * it open keep their ends.
 *
 * @example
 * ```ts
 * import { createFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/remove-${Date.now()}.fifo`;
 * createFifo(path);
 * removeFifo(path);
 * ```
 *
 * @param path The FIFO.
 * @throws {IpcError} `ENOENT` when nothing is there, `EINVAL` when it is not
 *   a FIFO, `EACCES`.
 */
export function removeFifo(path: string): void {
  const p = checkPath(path);
  const action = "remove FIFO";
  const type = typeAt(p, action);
  if (type !== S_IFIFO) throw notFifo(p, type, action);
  sys(() => libc().unlink(cString(p)), { syscall: "unlink", path: p, action });
}

/** Options of {@linkcode openFifo}. */
export interface OpenFifoOptions extends WaitOptions {
  /**
   * Microseconds (0 to 1,000,000) that the end's `read()`/`write()` retry on
   * the spot (yielding the CPU) before parking on the reactor thread, which
   * costs a thread wake-up (tens of µs). Spins only when the machine has
   * more than one CPU. 0 turns it off.
   * @default {50}
   */
  spin?: number;
}

/** Which end {@linkcode openFifo} opens. */
export type FifoAccess = "read" | "write";

/**
 * Opens our own second description of an open FIFO end, blocking: the
 * handle's `fd`, for sync calls and children. The first one (non-blocking)
 * stays private to the async and try calls.
 */
function blockingTwin(fd: number, access: number): number {
  const twin = libc().open(
    cString(`/proc/self/fd/${fd}`),
    access | O_NONBLOCK | O_CLOEXEC,
    0,
  );
  if (twin < 0) return -1;
  const flags = libc().fcntl(twin, F_GETFL, 0);
  if (flags < 0 || libc().fcntl(twin, F_SETFL, flags & ~O_NONBLOCK) < 0) {
    libc().close(twin);
    return -1;
  }
  return twin;
}

/** Checks that the open descriptor is a FIFO; closes it and throws if not. */
function mustBeFifo(fd: number, path: string, action: string): void {
  try {
    const type = statDescriptor(fd, { syscall: "fstat", path, action }).type;
    if (type !== S_IFIFO) throw notFifo(path, type, action);
  } catch (error) {
    libc().close(fd);
    throw error;
  }
}

/** Opens without blocking: the descriptor, or `undefined` on ENXIO. */
function openNow(
  path: string,
  access: number,
  action: string,
): number | undefined {
  for (;;) {
    const fd = libc().open(
      cString(path),
      access | O_NONBLOCK | O_CLOEXEC | oNoFollow(),
      0,
    );
    if (fd >= 0) return fd;
    const e = errno();
    if (e === EINTR) continue;
    if (e === ENXIO && access === O_WRONLY) return undefined; // no reader yet
    throw new IpcError(e, {
      syscall: "open",
      path,
      action,
      ...(e === 40 // ELOOP: O_NOFOLLOW met a symbolic link
        ? { hint: "It is a symbolic link: open the FIFO itself" }
        : e === 2
        ? { hint: "Create it with createFifo() first" }
        : {}),
    });
  }
}

/**
 * Whether a writer has shown up on a read end opened with O_NONBLOCK: data
 * or a hang-up (a writer came and went), or a read that would block (a
 * writer is there, silent). A byte that read takes is handed back.
 */
function writerSeen(
  fd: number,
  path: string,
): { pending: Uint8Array } | undefined {
  if (pollDescriptorSync(fd, "read", 0)) return { pending: new Uint8Array(0) };
  const one = new Uint8Array(1);
  for (;;) {
    const n = libc().read(fd, one, 1);
    if (n === 1) return { pending: one };
    if (n === 0) return undefined; // no writer yet
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return { pending: new Uint8Array(0) };
    throw new IpcError(e, { syscall: "read", path, action: "open FIFO" });
  }
}

/**
 * Opens a FIFO's reading or writing end without blocking the event loop.
 *
 * - `"read"` waits until a writer has shown up: it has opened the FIFO (a
 *   silent writer is noticed within a few milliseconds), written, or come
 *   and gone (then the first read returns EOF).
 * - `"write"` waits until a reader has the FIFO open.
 *
 * The path must name a FIFO itself: a symbolic link, a regular file or a
 * directory is refused (`ELOOP`, `EINVAL`). See fifo(7).
 *
 * @example Both ends in one process
 * ```ts
 * import { createFifo, openFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/open-${Date.now()}.fifo`;
 * createFifo(path);
 * try {
 *   const reading = openFifo(path, "read", { timeout: 5000 });
 *   await using writer = await openFifo(path, "write", { timeout: 5000 });
 *   await using reader = await reading;
 *   await writer.write("hi");
 *   const buffer = new Uint8Array(2);
 *   await reader.read(buffer);
 *   console.log(new TextDecoder().decode(buffer)); // hi
 * } finally {
 *   removeFifo(path);
 * }
 * ```
 *
 * @param path The FIFO.
 * @param access `"read"` or `"write"`.
 * @param options `timeout` (ms) and `signal` for the wait; `spin` for the
 *   end's async calls.
 * @returns A {@linkcode FifoReader} or {@linkcode FifoWriter}.
 * @throws {IpcError} `ENOENT`, `EACCES`, `EINVAL` (not a FIFO), `ELOOP`
 *   (a symbolic link).
 * @throws {DOMException} `TimeoutError` when no peer came in time, or the
 *   signal's reason.
 */
export function openFifo(
  path: string,
  access: "read",
  options?: OpenFifoOptions,
): Promise<FifoReader>;
/**
 * Opens a FIFO's writing end (see the overload for both ends).
 *
 * @example
 * ```ts
 * import { createFifo, openFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/w-${Date.now()}.fifo`;
 * createFifo(path);
 * await openFifo(path, "write", { timeout: 10 }).catch((e) => console.log(e.name)); // TimeoutError
 * removeFifo(path);
 * ```
 *
 * @param path The FIFO.
 * @param access `"write"`.
 * @param options `timeout` (ms) and `signal` for the wait for a reader.
 * @returns The writing end.
 */
export function openFifo(
  path: string,
  access: "write",
  options?: OpenFifoOptions,
): Promise<FifoWriter>;
/**
 * Opens a FIFO's reading or writing end (see the first overload).
 *
 * @example
 * ```ts
 * import { createFifo, type FifoAccess, openFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/rw-${Date.now()}.fifo`;
 * createFifo(path);
 * const access: FifoAccess = "read";
 * await openFifo(path, access, { timeout: 10 }).catch((e) => console.log(e.name)); // TimeoutError
 * removeFifo(path);
 * ```
 *
 * @param path The FIFO.
 * @param access `"read"` or `"write"`.
 * @param options `timeout` (ms) and `signal` for the wait.
 * @returns The end.
 */
export function openFifo(
  path: string,
  access: FifoAccess,
  options?: OpenFifoOptions,
): Promise<FifoReader | FifoWriter>;
export async function openFifo(
  path: string,
  access: FifoAccess,
  options?: OpenFifoOptions,
): Promise<FifoReader | FifoWriter> {
  const p = checkPath(path);
  if (access !== "read" && access !== "write") {
    throw new TypeError(
      `access must be "read" or "write", got ${describeValue(access)}`,
    );
  }
  const o = checkOptions(options);
  const spin = checkSpin(o.spin, DEFAULT_DESCRIPTOR_SPIN);
  const wait: WaitOptions = {
    ...(o.signal === undefined ? {} : { signal: o.signal }),
    ...(o.timeout === undefined ? {} : { timeout: o.timeout }),
  };
  const action = `open FIFO for ${access === "read" ? "reading" : "writing"}`;
  const type = typeAt(p, action);
  if (type !== S_IFIFO) throw notFifo(p, type, action);
  const what = `a ${access === "read" ? "writer" : "reader"} of FIFO "${p}"`;

  if (access === "write") {
    const opened = await waitUntil<number>({
      attempt: () => openNow(p, O_WRONLY, action),
      park: parkWithBackoff(),
      check: () => {},
      what,
    }, wait);
    mustBeFifo(opened, p, action);
    const twin = blockingTwin(opened, O_WRONLY);
    if (twin < 0) {
      clearNonBlocking(opened);
      return makeWriter(opened, null, p, spin);
    }
    return makeWriter(twin, opened, p, spin);
  }

  const fd = openNow(p, 0, action)!;
  mustBeFifo(fd, p, action);
  let seen: { pending: Uint8Array };
  try {
    seen = await waitUntil({
      attempt: () => writerSeen(fd, p),
      park: parkWithBackoff(),
      check: () => {},
      what,
    }, wait);
  } catch (error) {
    libc().close(fd);
    throw error;
  }
  const twin = blockingTwin(fd, 0);
  if (twin < 0) {
    clearNonBlocking(fd);
    return makeReader(fd, null, p, seen.pending, spin);
  }
  return makeReader(twin, fd, p, seen.pending, spin);
}

function clearNonBlocking(fd: number): void {
  const flags = libc().fcntl(fd, F_GETFL, 0);
  if (flags >= 0) libc().fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

let makeReader: (
  fd: number,
  nb: number | null,
  path: string,
  pending: Uint8Array,
  spin: number,
) => FifoReader;
let makeWriter: (
  fd: number,
  nb: number | null,
  path: string,
  spin: number,
) => FifoWriter;

/**
 * The reading end of a FIFO, from {@linkcode openFifo}. Reads return `null`
 * (EOF) once every writer has closed.
 *
 * `fd` is a raw escape hatch (blocking, close-on-exec): hand it to a child
 * process, say as its stdin, then close this end.
 *
 * @example Reading lines from a FIFO as a stream
 * ```ts
 * import { createFifo, openFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/lines-${Date.now()}.fifo`;
 * createFifo(path);
 * try {
 *   const reading = openFifo(path, "read");
 *   const writer = await openFifo(path, "write");
 *   const reader = await reading;
 *   await writer.write("a\nb\n");
 *   writer.close(); // EOF for the reader
 *   console.log(JSON.stringify(await new Response(reader.readable).text())); // "a\nb\n"
 * } finally {
 *   removeFifo(path);
 * }
 * ```
 */
export class FifoReader extends DescriptorReader implements AsyncDisposable {
  readonly #path: string;

  static {
    makeReader = (fd, nb, path, pending, spin) =>
      new FifoReader(fd, nb, path, pending, spin);
  }

  private constructor(
    fd: number,
    nb: number | null,
    path: string,
    pending: Uint8Array,
    spin: number,
  ) {
    super(fd, "FIFO", { path, spin, nonBlocking: nb, pending });
    this.#path = path;
  }

  /** The path it was opened at. */
  get path(): string {
    return this.#path;
  }

  /** Closes the reader (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * The writing end of a FIFO, from {@linkcode openFifo}. Writes of up to
 * 4096 bytes (`PIPE_BUF`) from several writers never interleave. Writing
 * once every reader closed is an `IpcError` `EPIPE`.
 *
 * @example Writing a line
 * ```ts
 * import { createFifo, openFifo, removeFifo } from "@ipckit/ipc/fifo";
 *
 * const path = `/tmp/write-${Date.now()}.fifo`;
 * createFifo(path);
 * try {
 *   const reading = openFifo(path, "read"); // its end opens at once
 *   await using writer = await openFifo(path, "write", { timeout: 1000 });
 *   await using reader = await reading;
 *   console.log(writer.writeSync("job 1\n")); // 6
 *   console.log(reader.closed); // false
 * } finally {
 *   removeFifo(path);
 * }
 * ```
 */
export class FifoWriter extends DescriptorWriter implements AsyncDisposable {
  readonly #path: string;

  static {
    makeWriter = (fd, nb, path, spin) => new FifoWriter(fd, nb, path, spin);
  }

  private constructor(
    fd: number,
    nb: number | null,
    path: string,
    spin: number,
  ) {
    super(fd, "FIFO", { path, spin, nonBlocking: nb });
    this.#path = path;
  }

  /** The path it was opened at. */
  get path(): string {
    return this.#path;
  }

  /** Closes the writer (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
