// Anonymous pipes: pipe2(2) with close-on-exec, capacity, packet mode, and
// both ends as handles with sync, async and try reads and writes and Web
// Streams.
import {
  checkBoolean,
  checkInteger,
  checkOptions,
  checkSpin,
  DescriptorHandle,
  IpcError,
  libc,
  statDescriptor,
  sys,
  toBytes,
  toWritableBytes,
  type WaitOptions,
  type WaitSyncOptions,
} from "../ffi/mod.ts";
import {
  ByteIo,
  checkCapacity,
  DEFAULT_SPIN,
  oDirect,
  readableOf,
  writableOf,
} from "./_byte_io.ts";

const O_CLOEXEC = 0o2000000;
const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const F_GETFL = 3;
const S_IFIFO = 0o010000;

/** Options of {@linkcode createPipe}. */
export interface CreatePipeOptions {
  /**
   * The pipe's capacity in bytes (`F_SETPIPE_SZ`); the kernel rounds it up
   * to a power-of-two number of pages. At most
   * `/proc/sys/fs/pipe-max-size` (1 MiB by default).
   * @default {65536 (the kernel's default)}
   */
  capacity?: number;
  /**
   * Packet mode (`O_DIRECT`): each write of up to 4096 bytes (`PIPE_BUF`)
   * is read back by one read, whole; longer writes are split into
   * 4096-byte packets. A read with a buffer smaller than the packet
   * discards the rest of it.
   * @default {false}
   */
  packet?: boolean;
  /**
   * Microseconds (0 to 1,000,000) that `read()`/`write()` retry on the spot
   * (yielding the CPU) before parking on the reactor thread, which costs a
   * thread wake-up (tens of µs). Spins only when the machine has more than
   * one CPU. 0 turns it off.
   * @default {50}
   */
  spin?: number;
}

/** Options of {@linkcode PipeReader.fromDescriptor} and {@linkcode PipeWriter.fromDescriptor}. */
export interface PipeEndOptions {
  /**
   * Microseconds that `read()`/`write()` retry before parking (see
   * {@linkcode CreatePipeOptions.spin}).
   * @default {50}
   */
  spin?: number;
}

/** Both ends of a pipe; disposing it closes both. */
export interface Pipe extends Disposable {
  /** The reading end. */
  readonly reader: PipeReader;
  /** The writing end. */
  readonly writer: PipeWriter;
  /** Closes both ends (each end may also be closed alone). */
  close(): void;
}

/** The label both end classes give their I/O. */
const PIPE = { what: "pipe" } as const;

function checkDescriptor(fd: unknown): number {
  return checkInteger(fd, "fd", 0, 0x7fffffff);
}

/**
 * Checks that `fd` is a pipe or FIFO open in `direction`; returns it.
 */
function adoptDescriptor(fd: unknown, direction: "read" | "write"): number {
  const n = checkDescriptor(fd);
  const failure = { syscall: "fstat", action: "adopt pipe end" };
  const status = statDescriptor(n, failure);
  if (status.type !== S_IFIFO) {
    throw new IpcError("EINVAL", {
      ...failure,
      path: String(n),
      hint: "The descriptor is not a pipe or FIFO",
    });
  }
  const flags = sys(() => libc().fcntl(n, F_GETFL, 0), {
    syscall: "fcntl",
    action: "adopt pipe end",
    path: String(n),
  });
  const writing = (flags & O_ACCMODE) === O_WRONLY;
  if (writing !== (direction === "write")) {
    throw new IpcError("EINVAL", {
      syscall: "fcntl",
      action: "adopt pipe end",
      path: String(n),
      hint: `The descriptor is open for ${
        writing ? "writing" : "reading"
      }, not ${direction === "write" ? "writing" : "reading"}`,
    });
  }
  return n;
}

let makeReader: (fd: number, spin: number) => PipeReader;
let makeWriter: (fd: number, spin: number) => PipeWriter;

/**
 * The reading end of a pipe (or of a FIFO adopted by descriptor).
 *
 * `fd` is a raw escape hatch: hand it to a child process as its stdin
 * (`stdio: [reader.fd, ...]` in `node:child_process`) or as descriptor 3
 * and up, then close this end. It is close-on-exec, so no other child
 * inherits it; the runtime clears that flag on the child's copy.
 *
 * @example Reading what was written
 * ```ts
 * import { createPipe } from "@ipckit/ipc/pipe";
 *
 * using pipe = createPipe();
 * pipe.writer.writeSync("hello");
 * const buffer = new Uint8Array(16);
 * const n = await pipe.reader.read(buffer, { timeout: 1000 });
 * console.log(new TextDecoder().decode(buffer.subarray(0, n ?? 0))); // hello
 * ```
 */
export class PipeReader extends DescriptorHandle {
  readonly #io: ByteIo;
  #readable: ReadableStream<Uint8Array> | undefined;

  static {
    makeReader = (fd, spin) => new PipeReader(fd, spin);
  }

  private constructor(fd: number, spin: number) {
    super(fd, "pipe reader");
    this.#io = new ByteIo(fd, "read", PIPE, spin);
  }

  /**
   * Takes ownership of an inherited or received descriptor that reads a
   * pipe or FIFO (say descriptor 3, handed down by a parent process).
   *
   * @example Adopting a descriptor
   * ```ts
   * import { createPipe, PipeReader } from "@ipckit/ipc/pipe";
   *
   * using pipe = createPipe();
   * using reader = PipeReader.fromDescriptor(pipe.reader.fd);
   * console.log(reader.capacity >= 4096); // true
   * ```
   *
   * @param fd The descriptor; the handle closes it.
   * @param options `spin`.
   * @returns The reading end.
   * @throws {IpcError} `EBADF` when not open, `EINVAL` when it is not a pipe
   *   or FIFO or is open for writing.
   */
  static fromDescriptor(fd: number, options?: PipeEndOptions): PipeReader {
    const spin = checkSpin(checkOptions(options).spin, DEFAULT_SPIN);
    return new PipeReader(adoptDescriptor(fd, "read"), spin);
  }

  /**
   * The pipe's capacity in bytes (`F_GETPIPE_SZ`); setting it calls
   * `F_SETPIPE_SZ` (see {@linkcode CreatePipeOptions.capacity}).
   *
   * @throws {RangeError} Above `/proc/sys/fs/pipe-max-size`.
   * @throws {IpcError} `EBUSY` when the pipe holds more than the new size.
   */
  get capacity(): number {
    this.checkOpen("fcntl");
    return this.#io.capacity();
  }

  set capacity(bytes: number) {
    this.checkOpen("fcntl");
    this.#io.setCapacity(bytes);
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
   *   the pipe is empty.
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
   * The pipe as a Web `ReadableStream` of chunks of up to 64 KiB. It ends
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

  /** Unused: {@linkcode PipeReader.release} closes the descriptor. */
  protected closeDescriptor(_fd: number): void {}
}

/**
 * The writing end of a pipe (or of a FIFO adopted by descriptor).
 *
 * Writing after every reader closed is an `IpcError` `EPIPE` (Deno and Bun
 * both ignore `SIGPIPE`, so the process lives). Writes of up to 4096 bytes
 * (`PIPE_BUF`) are never interleaved with other writers' writes.
 *
 * @example Writing, then closing for EOF
 * ```ts
 * import { createPipe } from "@ipckit/ipc/pipe";
 *
 * const { reader, writer } = createPipe();
 * await writer.write("line\n");
 * writer.close();
 * const text = await new Response(reader.readable).text();
 * console.log(JSON.stringify(text)); // "line\n"
 * ```
 */
export class PipeWriter extends DescriptorHandle {
  readonly #io: ByteIo;
  #writable: WritableStream<Uint8Array | string> | undefined;

  static {
    makeWriter = (fd, spin) => new PipeWriter(fd, spin);
  }

  private constructor(fd: number, spin: number) {
    super(fd, "pipe writer");
    this.#io = new ByteIo(fd, "write", PIPE, spin);
  }

  /**
   * Takes ownership of an inherited or received descriptor that writes a
   * pipe or FIFO (say descriptor 3, handed down by a parent process).
   *
   * @example Adopting a descriptor
   * ```ts
   * import { createPipe, PipeWriter } from "@ipckit/ipc/pipe";
   *
   * using pipe = createPipe();
   * using writer = PipeWriter.fromDescriptor(pipe.writer.fd);
   * console.log(writer.packet); // false
   * ```
   *
   * @param fd The descriptor; the handle closes it.
   * @param options `spin`.
   * @returns The writing end.
   * @throws {IpcError} `EBADF` when not open, `EINVAL` when it is not a pipe
   *   or FIFO or is open for reading.
   */
  static fromDescriptor(fd: number, options?: PipeEndOptions): PipeWriter {
    const spin = checkSpin(checkOptions(options).spin, DEFAULT_SPIN);
    return new PipeWriter(adoptDescriptor(fd, "write"), spin);
  }

  /**
   * The pipe's capacity in bytes (`F_GETPIPE_SZ`); setting it calls
   * `F_SETPIPE_SZ` (see {@linkcode CreatePipeOptions.capacity}).
   *
   * @throws {RangeError} Above `/proc/sys/fs/pipe-max-size`.
   * @throws {IpcError} `EBUSY` when the pipe holds more than the new size.
   */
  get capacity(): number {
    this.checkOpen("fcntl");
    return this.#io.capacity();
  }

  set capacity(bytes: number) {
    this.checkOpen("fcntl");
    this.#io.setCapacity(bytes);
  }

  /** Whether this end writes packets (`O_DIRECT`). */
  get packet(): boolean {
    const fd = this.descriptor("fcntl");
    const flags = sys(() => libc().fcntl(fd, F_GETFL, 0), {
      syscall: "fcntl",
      action: "read the flags of pipe",
    });
    return (flags & oDirect()) !== 0;
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
  write(
    data: Uint8Array | string,
    options?: WaitOptions,
  ): Promise<number> {
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
   * The pipe as a Web `WritableStream` of bytes or strings. Closing or
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

  /** Unused: {@linkcode PipeWriter.release} closes the descriptor. */
  protected closeDescriptor(_fd: number): void {}
}

/**
 * Makes an anonymous pipe (`pipe2(2)` with `O_CLOEXEC`): a reading and a
 * writing end, in this process, to keep or to hand to child processes.
 * See pipe(7).
 *
 * @example A pipe with a larger capacity
 * ```ts
 * import { createPipe } from "@ipckit/ipc/pipe";
 *
 * using pipe = createPipe({ capacity: 1 << 20 });
 * console.log(pipe.writer.capacity); // 1048576
 * ```
 *
 * @example Packet mode keeps write boundaries
 * ```ts
 * import { createPipe } from "@ipckit/ipc/pipe";
 *
 * using pipe = createPipe({ packet: true });
 * pipe.writer.writeSync("one");
 * pipe.writer.writeSync("two");
 * console.log(pipe.reader.readSync(new Uint8Array(4096))); // 3
 * ```
 *
 * @param options `capacity`, `packet` and `spin`.
 * @returns Both ends; `using` closes both.
 * @throws {RangeError} A capacity above `/proc/sys/fs/pipe-max-size`, a
 *   spin out of range.
 * @throws {IpcError} `EMFILE`/`ENFILE` when out of descriptors.
 */
export function createPipe(options?: CreatePipeOptions): Pipe {
  const o = checkOptions(options);
  const packet = checkBoolean(o.packet, "packet", false);
  const spin = checkSpin(o.spin, DEFAULT_SPIN);
  const capacity = o.capacity === undefined
    ? undefined
    : checkCapacity(o.capacity);
  const fds = new Int32Array(2);
  sys(() => libc().pipe2(fds, O_CLOEXEC | (packet ? oDirect() : 0)), {
    syscall: "pipe2",
    action: "create pipe",
  });
  const reader = makeReader(fds[0]!, spin);
  const writer = makeWriter(fds[1]!, spin);
  try {
    if (capacity !== undefined) writer.capacity = capacity;
  } catch (error) {
    reader.close();
    writer.close();
    throw error;
  }
  return {
    reader,
    writer,
    close() {
      reader.close();
      writer.close();
    },
    [Symbol.dispose]() {
      reader.close();
      writer.close();
    },
  };
}
