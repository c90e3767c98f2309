// Reading and writing one end of a pipe or FIFO (any descriptor that
// read(2)s and write(2)s bytes), the way every ipckit descriptor waits: the
// machinery under byte_io.ts's DescriptorReader and DescriptorWriter.
//
// The end's own descriptor stays blocking: it may be shared with child
// processes, and O_NONBLOCK lives on the open file description, so toggling
// it would change every holder's reads. Blocking calls (`readSync`,
// `writeSync`) use it directly: one read(2) or write(2), as fast as C. The
// non-blocking and asynchronous forms use a private description of the same
// pipe opened with O_NONBLOCK (through /proc/self/fd/N, made on first use,
// close-on-exec, never shared). Where /proc is missing they fall back to
// poll(2) with a zero timeout before each call on the shared descriptor.
import { IpcError } from "./error.ts";
import { errno, type Libc, libc } from "./_libc.ts";
import { cString } from "./names.ts";
import { checkOptions, checkSignal, checkTimeout } from "./validate.ts";
import { pollDescriptorSync } from "./poll.ts";
import { forgetDescriptor } from "./reactor.ts";
import {
  parkOnDescriptor,
  parkOnDescriptorSync,
  type WaitOptions,
  type WaitSyncOptions,
  waitUntil,
  waitUntilSync,
} from "./wait.ts";

const EINTR = 4;
const EAGAIN = 11;
const EPIPE = 32;
const O_WRONLY = 0o1;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
/** The largest write the kernel keeps whole (and one packet's size). */
export const PIPE_BUF = 4096;
/** The chunk a stream reads at once. */
export const STREAM_CHUNK = 65536;

/** `O_DIRECT` (packet mode) differs between the architectures. */
export function oDirect(): number {
  const g = globalThis as {
    Deno?: { build: { arch: string } };
    process?: { arch: string };
  };
  const name = g.Deno?.build.arch ?? g.process?.arch;
  return name === "aarch64" || name === "arm64" ? 0o200000 : 0o40000;
}

/** What an end is, for messages. */
export interface EndLabel {
  /** `"pipe"` or `"FIFO"`. */
  readonly what: string;
  /** The FIFO's path; none for a pipe. */
  readonly path?: string;
}

/** Reads, writes and capacity of one pipe or FIFO end. */
export class ByteIo {
  readonly fd: number;
  readonly label: EndLabel;
  readonly direction: "read" | "write";
  /** The private non-blocking description; -1 until made, -2 if it cannot be. */
  #nb: number;
  /** Bytes read ahead of the caller (a FIFO's open probe), returned first. */
  #pending: Uint8Array | undefined;
  /** Microseconds async calls retry before parking on the reactor. */
  readonly spin: number;
  /** libc, looked up once (the hot paths call it twice per round trip). */
  readonly #c: Libc = libc();

  constructor(
    fd: number,
    direction: "read" | "write",
    label: EndLabel,
    spin: number,
    nonBlocking = -1,
    pending?: Uint8Array,
  ) {
    this.fd = fd;
    this.spin = spin;
    this.direction = direction;
    this.label = label;
    this.#nb = nonBlocking;
    this.#pending = pending !== undefined && pending.length > 0
      ? pending
      : undefined;
  }

  /** The private non-blocking descriptor, or -1 where there is none. */
  nonBlocking(): number {
    if (this.#nb >= 0) return this.#nb;
    if (this.#nb === -2) return -1;
    const access = this.direction === "write" ? O_WRONLY : 0;
    const flags = libc().fcntl(this.fd, F_GETFL, 0);
    let fd = libc().open(
      cString(`/proc/self/fd/${this.fd}`),
      access | O_NONBLOCK | O_CLOEXEC,
      0,
    );
    // Packet mode is a flag of the writing description: copy it over
    // (open(2) refuses O_DIRECT on a pipe; fcntl(2) takes it).
    const direct = oDirect();
    if (fd >= 0 && flags >= 0 && (flags & direct) !== 0) {
      if (libc().fcntl(fd, F_SETFL, O_NONBLOCK | direct) === -1) {
        libc().close(fd);
        fd = -1;
      }
    }
    this.#nb = fd >= 0 ? fd : -2;
    return fd >= 0 ? fd : -1;
  }

  /** The descriptor to wait on for readiness. */
  waitDescriptor(): number {
    const nb = this.nonBlocking();
    return nb >= 0 ? nb : this.fd;
  }

  /** Closes the private descriptor (after stopping waits on it) and the end. */
  close(reason: unknown): void {
    if (this.#nb >= 0) {
      forgetDescriptor(this.#nb, reason);
      libc().close(this.#nb);
      this.#nb = -2;
    }
    this.#pending = undefined;
    libc().close(this.fd);
  }

  #fail(syscall: string, e: number): never {
    const hint = e === EPIPE
      ? "Every reading end is closed: nothing can read what is written"
      : undefined;
    throw new IpcError(e, {
      syscall,
      ...this.#path(),
      action: `${syscall} ${this.label.what}`,
      ...(hint === undefined ? {} : { hint }),
    });
  }

  #path(): { path?: string } {
    return this.label.path === undefined ? {} : { path: this.label.path };
  }

  /** What is waited on, for timeout messages. */
  get what(): string {
    return this.label.path === undefined
      ? this.label.what
      : `${this.label.what} "${this.label.path}"`;
  }

  #takePending(buffer: Uint8Array): number | undefined {
    const pending = this.#pending;
    if (pending === undefined) return undefined;
    const n = Math.min(pending.length, buffer.length);
    buffer.set(pending.subarray(0, n));
    this.#pending = n < pending.length ? pending.subarray(n) : undefined;
    return n;
  }

  /** One non-blocking read: bytes, `null` at EOF, `undefined` if it would block. */
  tryRead(buffer: Uint8Array): number | null | undefined {
    if (buffer.length === 0) return 0;
    const early = this.#takePending(buffer);
    if (early !== undefined) return early;
    let fd = this.nonBlocking();
    if (fd < 0) {
      if (!pollDescriptorSync(this.fd, "read", 0)) return undefined;
      fd = this.fd;
    }
    for (;;) {
      const n = this.#c.read(fd, buffer, buffer.length);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return undefined;
      this.#fail("read", e);
    }
  }

  /** A blocking read: bytes, or `null` at EOF. */
  readSync(
    buffer: Uint8Array,
    options: WaitSyncOptions | undefined,
  ): number | null {
    if (buffer.length === 0) return 0;
    const early = this.#takePending(buffer);
    if (early !== undefined) return early;
    if (options?.timeout === undefined) {
      for (;;) {
        const n = this.#c.read(this.fd, buffer, buffer.length);
        if (n > 0) return n;
        if (n === 0) return null;
        const e = errno();
        if (e === EINTR) continue;
        // Someone set O_NONBLOCK on a description we were handed: wait.
        if (e === EAGAIN) {
          pollDescriptorSync(this.fd, "read");
          continue;
        }
        this.#fail("read", e);
      }
    }
    const got = waitUntilSync<number | null>({
      attempt: () => this.tryRead(buffer),
      park: parkOnDescriptorSync(this.fd, "read"),
      what: this.what,
    }, options);
    return got;
  }

  /** Waits for data without blocking the event loop. */
  read(
    buffer: Uint8Array,
    options: WaitOptions | undefined,
    check: () => void,
    closing: AbortSignal,
  ): Promise<number | null> {
    return waitUntil<number | null>({
      attempt: () => this.tryRead(buffer),
      park: parkOnDescriptor(() => {
        check();
        return this.waitDescriptor();
      }, "read"),
      check,
      closing,
      what: this.what,
      spin: this.spin,
    }, options);
  }

  /**
   * One non-blocking write of as much as fits: the count, or `undefined`
   * when nothing fits. A write of at most PIPE_BUF bytes is whole or none.
   */
  tryWrite(data: Uint8Array): number | undefined {
    if (data.length === 0) return 0;
    let fd = this.nonBlocking();
    let length = data.length;
    if (fd < 0) {
      // poll(2) says writable when one page is free: a write of PIPE_BUF
      // bytes then completes at once.
      if (!pollDescriptorSync(this.fd, "write", 0)) return undefined;
      fd = this.fd;
      length = Math.min(length, PIPE_BUF);
    }
    for (;;) {
      const n = this.#c.write(fd, data, length);
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return undefined;
      this.#fail("write", e);
    }
  }

  /** Writes every byte, blocking the thread. */
  writeSync(data: Uint8Array, options: WaitSyncOptions | undefined): number {
    // Checked before the first byte goes, as the read side does.
    const timeout = checkTimeout(checkOptions(options).timeout);
    let done = 0;
    if (timeout === undefined) {
      while (done < data.length) {
        const rest = done === 0 ? data : data.subarray(done);
        const n = this.#c.write(this.fd, rest, rest.length);
        if (n >= 0) {
          done += n;
          continue;
        }
        const e = errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) {
          pollDescriptorSync(this.fd, "write");
          continue;
        }
        this.#fail("write", e);
      }
      return done;
    }
    const deadline = performance.now() + timeout;
    while (done < data.length) {
      const rest = data.subarray(done);
      done += waitUntilSync<number>({
        attempt: () => this.tryWrite(rest),
        park: parkOnDescriptorSync(this.fd, "write"),
        what: this.what,
      }, { timeout: Math.max(0, deadline - performance.now()) });
    }
    return done;
  }

  /** Writes every byte without blocking the event loop. */
  async write(
    data: Uint8Array,
    options: WaitOptions | undefined,
    check: () => void,
    closing: AbortSignal,
  ): Promise<number> {
    // Checked before the first byte goes, as the read side does: an
    // aborted signal writes nothing.
    const o = checkOptions(options);
    const timeout = checkTimeout(o.timeout);
    const signal = checkSignal(o.signal);
    signal?.throwIfAborted();
    // Fast path: it all fits now.
    const first = this.tryWrite(data);
    let done = first ?? 0;
    if (done === data.length) return done;
    const deadline = timeout === undefined
      ? undefined
      : performance.now() + timeout;
    while (done < data.length) {
      const rest = data.subarray(done);
      const left = deadline === undefined
        ? undefined
        : Math.max(0, deadline - performance.now());
      done += await waitUntil<number>({
        attempt: () => this.tryWrite(rest),
        park: parkOnDescriptor(() => {
          check();
          return this.waitDescriptor();
        }, "write"),
        check,
        closing,
        what: this.what,
        spin: this.spin,
      }, {
        ...(signal === undefined ? {} : { signal }),
        ...(left === undefined ? {} : { timeout: left }),
      });
    }
    return done;
  }
}

/**
 * A byte stream over an end's async reads: it ends at EOF, and ending or
 * cancelling it closes the end.
 */
export function readableOf(
  read: (buffer: Uint8Array) => Promise<number | null>,
  close: () => void,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(STREAM_CHUNK);
      let n: number | null;
      try {
        n = await read(buffer);
      } catch (error) {
        close();
        controller.error(error);
        return;
      }
      if (n === null) {
        close();
        controller.close();
        return;
      }
      controller.enqueue(buffer.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

/**
 * A byte sink over an end's async writes: closing or aborting it closes the
 * end (so the reader sees EOF).
 */
export function writableOf(
  write: (data: Uint8Array) => Promise<number>,
  toBytes: (chunk: unknown) => Uint8Array,
  close: () => void,
): WritableStream<Uint8Array | string> {
  return new WritableStream<Uint8Array | string>({
    async write(chunk) {
      try {
        await write(toBytes(chunk));
      } catch (error) {
        close();
        throw error;
      }
    },
    close() {
      close();
    },
    abort() {
      close();
    },
  });
}
