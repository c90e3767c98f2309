// The ends of byte streams on descriptors (pipes and FIFOs): handles with
// sync, async and try reads and writes and Web Streams, built on _byte_io.ts,
// and a pipe's capacity and packet flag.
import { DescriptorHandle } from "./handle.ts";
import { libc } from "./_libc.ts";
import { readKernelNumber } from "./proc.ts";
import { sys } from "./syscall.ts";
import {
  checkOptions,
  checkSpin,
  toBytes,
  toWritableBytes,
} from "./validate.ts";
import type { WaitOptions, WaitSyncOptions } from "./wait.ts";
import { ByteIo, oDirect, readableOf, writableOf } from "./_byte_io.ts";

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

/**
 * Microseconds a {@linkcode DescriptorReader} or {@linkcode DescriptorWriter}
 * retries `read()`/`write()` on the spot before parking on the reactor, when
 * not told otherwise.
 *
 * @example
 * ```ts
 * import { checkSpin, DEFAULT_DESCRIPTOR_SPIN } from "@ipckit/ipc/ffi";
 *
 * console.log(checkSpin(undefined, DEFAULT_DESCRIPTOR_SPIN)); // 50
 * ```
 */
export const DEFAULT_DESCRIPTOR_SPIN = 50;

/** Options of the {@linkcode DescriptorWriter} constructor. */
export interface DescriptorEndOptions {
  /** The path the descriptor was opened at, for messages (a FIFO's). */
  path?: string;
  /**
   * Microseconds (0 to 1,000,000) that `read()`/`write()` retry on the spot
   * (yielding the CPU) before parking on the reactor thread.
   * @default {50}
   */
  spin?: number;
  /**
   * A non-blocking open file description of the same pipe, which the
   * handle then owns (closes) and uses for its try and async calls. `null`:
   * there is none to be had (they poll(2) the blocking descriptor first).
   * Left out, one is opened through `/proc/self/fd` on first use.
   */
  nonBlocking?: number | null;
}

/** Options of the {@linkcode DescriptorReader} constructor. */
export interface DescriptorReaderOptions extends DescriptorEndOptions {
  /**
   * Bytes already read from the descriptor (say, by a probe before the
   * handle existed): the first reads return them before reading more.
   */
  pending?: Uint8Array;
}

function nonBlockingOf(options: DescriptorEndOptions): number {
  const nb = options.nonBlocking;
  return nb === undefined ? -1 : nb === null ? -2 : nb;
}

function labelOf(object: string, path: string | undefined) {
  return path === undefined ? { what: object } : { what: object, path };
}

/**
 * The reading end of a byte stream on a descriptor (a pipe or FIFO): reads
 * that block the thread, that wait without blocking the event loop, or that
 * take what is there, and a Web `ReadableStream`. The descriptor itself stays
 * blocking (it may be shared with other processes); the try and async reads
 * go through a private non-blocking description of the same pipe.
 *
 * Extend it to make a module's reader: `pipe` and `fifo` do.
 *
 * @example A reader on the reading end of pipe2(2)
 * ```ts
 * import { DescriptorReader, DescriptorWriter, libc } from "@ipckit/ipc/ffi";
 *
 * class Reader extends DescriptorReader {
 *   constructor(fd: number) { super(fd, "pipe"); }
 * }
 * class Writer extends DescriptorWriter {
 *   constructor(fd: number) { super(fd, "pipe"); }
 * }
 * const fds = new Int32Array(2);
 * libc().pipe2(fds, 0o2000000); // O_CLOEXEC
 * using reader = new Reader(fds[0]!);
 * using writer = new Writer(fds[1]!);
 * writer.writeSync("hi");
 * console.log(await reader.read(new Uint8Array(8), { timeout: 1000 })); // 2
 * ```
 */
export abstract class DescriptorReader extends DescriptorHandle {
  readonly #io: ByteIo;
  #readable: ReadableStream<Uint8Array> | undefined;

  /**
   * Takes ownership of a descriptor open for reading.
   *
   * @param fd The descriptor; the handle closes it.
   * @param object What it reads, for messages: `"pipe"`, `"FIFO"`. The
   *   handle is a `"<object> reader"`.
   * @param options `path`, `spin`, `nonBlocking` and `pending`.
   */
  protected constructor(
    fd: number,
    object: string,
    options: DescriptorReaderOptions = {},
  ) {
    super(fd, `${object} reader`, options.path);
    this.#io = new ByteIo(
      fd,
      "read",
      labelOf(object, options.path),
      checkSpin(options.spin, DEFAULT_DESCRIPTOR_SPIN),
      nonBlockingOf(options),
      options.pending,
    );
  }

  /**
   * Reads once: waits (without blocking the event loop) until data or EOF,
   * then fills `buffer` with what is there.
   *
   * @param buffer Where to put the bytes.
   * @param options `timeout` (ms) and `signal`.
   * @returns The number of bytes read, or `null` at EOF (every writer
   *   closed).
   * @throws {IpcError} `EBADF` when closed, before or during the wait.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  read(buffer: Uint8Array, options?: WaitOptions): Promise<number | null> {
    try {
      // A non-empty Uint8Array needs no more checks (a detached one is empty).
      const bytes = buffer instanceof Uint8Array && buffer.length > 0
        ? buffer
        : toWritableBytes(buffer, "buffer");
      this.checkOpen("read");
      return this.#io.read(
        bytes,
        options,
        () => this.checkOpen("read"),
        this.closing,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Reads once, blocking the thread (and the event loop) until data or EOF.
   *
   * @param buffer Where to put the bytes.
   * @param options `timeout` (ms).
   * @returns The number of bytes read, or `null` at EOF.
   * @throws {IpcError} `EBADF` when closed.
   * @throws {DOMException} `TimeoutError`.
   */
  readSync(buffer: Uint8Array, options?: WaitSyncOptions): number | null {
    // A non-empty Uint8Array needs no more checks (a detached one is empty).
    const bytes = buffer instanceof Uint8Array && buffer.length > 0
      ? buffer
      : toWritableBytes(buffer, "buffer");
    this.checkOpen("read");
    return this.#io.readSync(
      bytes,
      options === undefined ? undefined : checkOptions(options),
    );
  }

  /**
   * Reads what is there without waiting.
   *
   * @param buffer Where to put the bytes.
   * @returns The number of bytes read, `null` at EOF, or `undefined` when
   *   there is nothing to read.
   * @throws {IpcError} `EBADF` when closed.
   */
  tryRead(buffer: Uint8Array): number | null | undefined {
    // A non-empty Uint8Array needs no more checks (a detached one is empty).
    const bytes = buffer instanceof Uint8Array && buffer.length > 0
      ? buffer
      : toWritableBytes(buffer, "buffer");
    this.checkOpen("read");
    return this.#io.tryRead(bytes);
  }

  /**
   * The stream as a Web `ReadableStream` of chunks of up to 64 KiB. It ends
   * at EOF; its end, or cancelling it, closes this reader.
   */
  get readable(): ReadableStream<Uint8Array> {
    this.checkOpen("read");
    this.#readable ??= readableOf(
      (buffer) => this.read(buffer),
      () => this.close(),
    );
    return this.#readable;
  }

  /** Closes the private descriptor, then the end. */
  protected override release(): void {
    this.#io.close(this.closedError("close"));
  }

  /** Unused: {@linkcode DescriptorReader.release} closes the descriptor. */
  protected closeDescriptor(_fd: number): void {}
}

/**
 * The writing end of a byte stream on a descriptor (a pipe or FIFO): writes
 * of every byte that block the thread or wait without blocking the event
 * loop, writes of what fits now, and a Web `WritableStream`. Writing once
 * every reader closed is an `IpcError` `EPIPE`; writes of up to 4096 bytes
 * (`PIPE_BUF`) never interleave with other writers'.
 *
 * Extend it to make a module's writer: `pipe` and `fifo` do.
 *
 * @example A writer on the writing end of pipe2(2)
 * ```ts
 * import { DescriptorReader, DescriptorWriter, libc } from "@ipckit/ipc/ffi";
 *
 * class Reader extends DescriptorReader {
 *   constructor(fd: number) { super(fd, "pipe"); }
 * }
 * class Writer extends DescriptorWriter {
 *   constructor(fd: number) { super(fd, "pipe", { spin: 0 }); }
 * }
 * const fds = new Int32Array(2);
 * libc().pipe2(fds, 0o2000000); // O_CLOEXEC
 * const reader = new Reader(fds[0]!);
 * const writer = new Writer(fds[1]!);
 * await writer.write("line\n");
 * writer.close(); // EOF for the reader
 * console.log(JSON.stringify(await new Response(reader.readable).text())); // "line\n"
 * ```
 */
export abstract class DescriptorWriter extends DescriptorHandle {
  readonly #io: ByteIo;
  #writable: WritableStream<Uint8Array | string> | undefined;

  /**
   * Takes ownership of a descriptor open for writing.
   *
   * @param fd The descriptor; the handle closes it.
   * @param object What it writes, for messages: `"pipe"`, `"FIFO"`. The
   *   handle is a `"<object> writer"`.
   * @param options `path`, `spin` and `nonBlocking`.
   */
  protected constructor(
    fd: number,
    object: string,
    options: DescriptorEndOptions = {},
  ) {
    super(fd, `${object} writer`, options.path);
    this.#io = new ByteIo(
      fd,
      "write",
      labelOf(object, options.path),
      checkSpin(options.spin, DEFAULT_DESCRIPTOR_SPIN),
      nonBlockingOf(options),
    );
  }

  /**
   * Writes every byte, waiting for room without blocking the event loop.
   *
   * @param data Bytes, or a string (UTF-8).
   * @param options `timeout` (ms) and `signal`; on timeout or abort part
   *   of `data` may have been written.
   * @returns The number of bytes written (all of them).
   * @throws {IpcError} `EPIPE` when every reader is closed; `EBADF` when
   *   this end closed.
   * @throws {DOMException} `TimeoutError`, or the signal's reason.
   */
  write(data: Uint8Array | string, options?: WaitOptions): Promise<number> {
    try {
      const bytes = data instanceof Uint8Array && data.length > 0
        ? data
        : toBytes(data, "data");
      this.checkOpen("write");
      return this.#io.write(
        bytes,
        options,
        () => this.checkOpen("write"),
        this.closing,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Writes every byte, blocking the thread (and the event loop) while the
   * pipe is full.
   *
   * @param data Bytes, or a string (UTF-8).
   * @param options `timeout` (ms).
   * @returns The number of bytes written (all of them).
   * @throws {IpcError} `EPIPE` when every reader is closed.
   * @throws {DOMException} `TimeoutError`.
   */
  writeSync(data: Uint8Array | string, options?: WaitSyncOptions): number {
    const bytes = data instanceof Uint8Array && data.length > 0
      ? data
      : toBytes(data, "data");
    this.checkOpen("write");
    return this.#io.writeSync(
      bytes,
      options === undefined ? undefined : checkOptions(options),
    );
  }

  /**
   * Writes as much as fits now without waiting. Up to 4096 bytes
   * (`PIPE_BUF`) are written whole or not at all.
   *
   * @param data Bytes, or a string (UTF-8).
   * @returns The number of bytes written, or `undefined` when nothing fit.
   * @throws {IpcError} `EPIPE` when every reader is closed.
   */
  tryWrite(data: Uint8Array | string): number | undefined {
    const bytes = data instanceof Uint8Array && data.length > 0
      ? data
      : toBytes(data, "data");
    this.checkOpen("write");
    return this.#io.tryWrite(bytes);
  }

  /**
   * The stream as a Web `WritableStream` of bytes or strings. Closing or
   * aborting it closes this writer, which the reader sees as EOF once no
   * other writer is left.
   */
  get writable(): WritableStream<Uint8Array | string> {
    this.checkOpen("write");
    this.#writable ??= writableOf(
      (data) => this.write(data),
      (chunk) => toBytes(chunk, "chunk"),
      () => this.close(),
    );
    return this.#writable;
  }

  /** Closes the private descriptor, then the end. */
  protected override release(): void {
    this.#io.close(this.closedError("close"));
  }

  /** Unused: {@linkcode DescriptorWriter.release} closes the descriptor. */
  protected closeDescriptor(_fd: number): void {}
}

/**
 * `O_DIRECT`, the flag of a pipe's packet mode (pipe2(2)), which differs
 * between the architectures.
 *
 * @example
 * ```ts
 * import { pipePacketFlag } from "@ipckit/ipc/ffi";
 *
 * console.log(pipePacketFlag() === 0o40000 || pipePacketFlag() === 0o200000); // true
 * ```
 *
 * @returns `0o40000` on x86_64, `0o200000` on aarch64.
 */
export function pipePacketFlag(): number {
  return oDirect();
}

/**
 * Checks a pipe capacity against /proc/sys/fs/pipe-max-size (root may
 * exceed it in the kernel, but ipckit holds every user to it, so that code
 * that works as root works as anyone).
 *
 * @example
 * ```ts
 * import { checkPipeCapacity } from "@ipckit/ipc/ffi";
 *
 * console.log(checkPipeCapacity(65536)); // 65536
 * ```
 *
 * @param bytes The capacity.
 * @returns It.
 * @throws {TypeError} Not a number.
 * @throws {RangeError} Not an integer from 1 to the maximum.
 */
export function checkPipeCapacity(bytes: unknown): number {
  if (typeof bytes !== "number") {
    throw new TypeError(
      `capacity must be a number of bytes, got ${
        bytes === null ? "null" : typeof bytes
      }`,
    );
  }
  const max = readKernelNumber("/proc/sys/fs/pipe-max-size") ?? 1048576;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > max) {
    throw new RangeError(
      `capacity must be an integer from 1 to ${max} bytes (/proc/sys/fs/pipe-max-size), got ${bytes}`,
    );
  }
  return bytes;
}

/**
 * A pipe's capacity in bytes (`F_GETPIPE_SZ`), through either end.
 *
 * @example
 * ```ts
 * import { libc, pipeCapacity } from "@ipckit/ipc/ffi";
 *
 * const fds = new Int32Array(2);
 * libc().pipe2(fds, 0o2000000);
 * console.log(pipeCapacity(fds[0]!) >= 4096); // true
 * libc().close(fds[0]!);
 * libc().close(fds[1]!);
 * ```
 *
 * @param fd A descriptor of the pipe (or FIFO).
 * @returns The capacity.
 * @throws {IpcError} `EBADF`; `EINVAL` when it is not a pipe.
 */
export function pipeCapacity(fd: number): number {
  return sys(() => libc().fcntl(fd, F_GETPIPE_SZ, 0), {
    syscall: "fcntl",
    action: "read the capacity of pipe",
  });
}

/**
 * Sets a pipe's capacity (`F_SETPIPE_SZ`), after
 * {@linkcode checkPipeCapacity}; the kernel rounds it up to a power-of-two
 * number of pages.
 *
 * @example
 * ```ts
 * import { libc, setPipeCapacity } from "@ipckit/ipc/ffi";
 *
 * const fds = new Int32Array(2);
 * libc().pipe2(fds, 0o2000000);
 * console.log(setPipeCapacity(fds[1]!, 1 << 17)); // 131072
 * libc().close(fds[0]!);
 * libc().close(fds[1]!);
 * ```
 *
 * @param fd A descriptor of the pipe (or FIFO).
 * @param bytes The new capacity.
 * @returns The capacity the kernel gave.
 * @throws {RangeError} Above `/proc/sys/fs/pipe-max-size`.
 * @throws {IpcError} `EBUSY` when the pipe holds more than the new size.
 */
export function setPipeCapacity(fd: number, bytes: number): number {
  checkPipeCapacity(bytes);
  return sys(
    () => libc().fcntl(fd, F_SETPIPE_SZ, bytes),
    { syscall: "fcntl", action: "set the capacity of pipe" },
    (code) =>
      code === "EBUSY"
        ? `The pipe holds more data than ${bytes} bytes: read it first`
        : code === "EPERM"
        ? "This user's pipes use up /proc/sys/fs/pipe-user-pages-soft or -hard"
        : undefined,
  );
}
