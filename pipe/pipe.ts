// Anonymous pipes: pipe2(2) with close-on-exec, capacity, packet mode, and
// both ends as handles with sync, async and try reads and writes and Web
// Streams.
import {
  checkBoolean,
  checkInteger,
  checkOptions,
  checkPipeCapacity,
  checkSpin,
  DEFAULT_DESCRIPTOR_SPIN,
  DescriptorReader,
  DescriptorWriter,
  IpcError,
  libc,
  pipeCapacity,
  pipePacketFlag,
  setPipeCapacity,
  statDescriptor,
  sys,
} from "../ffi/mod.ts";

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

/**
 * Checks the options, then that `fd` is a pipe or FIFO open in `direction`;
 * returns both.
 */
function adoptDescriptor(
  fd: unknown,
  direction: "read" | "write",
  options: PipeEndOptions | undefined,
): { fd: number; spin: number } {
  const spin = checkSpin(checkOptions(options).spin, DEFAULT_DESCRIPTOR_SPIN);
  const n = checkInteger(fd, "fd", 0, 0x7fffffff);
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
  return { fd: n, spin };
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
export class PipeReader extends DescriptorReader {
  static {
    makeReader = (fd, spin) => new PipeReader(fd, spin);
  }

  private constructor(fd: number, spin: number) {
    super(fd, "pipe", { spin });
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
    const end = adoptDescriptor(fd, "read", options);
    return new PipeReader(end.fd, end.spin);
  }

  /**
   * The pipe's capacity in bytes (`F_GETPIPE_SZ`); setting it calls
   * `F_SETPIPE_SZ` (see {@linkcode CreatePipeOptions.capacity}).
   *
   * @throws {RangeError} Above `/proc/sys/fs/pipe-max-size`.
   * @throws {IpcError} `EBUSY` when the pipe holds more than the new size.
   */
  get capacity(): number {
    return pipeCapacity(this.descriptor("fcntl"));
  }

  set capacity(bytes: number) {
    setPipeCapacity(this.descriptor("fcntl"), bytes);
  }
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
export class PipeWriter extends DescriptorWriter {
  static {
    makeWriter = (fd, spin) => new PipeWriter(fd, spin);
  }

  private constructor(fd: number, spin: number) {
    super(fd, "pipe", { spin });
  }

  /**
   * Takes ownership of an inherited or received descriptor that writes a
   * pipe or FIFO (as {@linkcode PipeReader.fromDescriptor} does).
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
    const end = adoptDescriptor(fd, "write", options);
    return new PipeWriter(end.fd, end.spin);
  }

  /**
   * The pipe's capacity in bytes, as {@linkcode PipeReader.capacity}.
   *
   * @throws {RangeError} Above `/proc/sys/fs/pipe-max-size`.
   * @throws {IpcError} `EBUSY` when the pipe holds more than the new size.
   */
  get capacity(): number {
    return pipeCapacity(this.descriptor("fcntl"));
  }

  set capacity(bytes: number) {
    setPipeCapacity(this.descriptor("fcntl"), bytes);
  }

  /** Whether this end writes packets (`O_DIRECT`). */
  get packet(): boolean {
    const fd = this.descriptor("fcntl");
    const flags = sys(() => libc().fcntl(fd, F_GETFL, 0), {
      syscall: "fcntl",
      action: "read the flags of pipe",
    });
    return (flags & pipePacketFlag()) !== 0;
  }
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
  const spin = checkSpin(o.spin, DEFAULT_DESCRIPTOR_SPIN);
  const capacity = o.capacity === undefined
    ? undefined
    : checkPipeCapacity(o.capacity);
  const fds = new Int32Array(2);
  sys(() => libc().pipe2(fds, O_CLOEXEC | (packet ? pipePacketFlag() : 0)), {
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
