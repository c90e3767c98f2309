// The base of every handle: idempotent close, a closed check that fails
// before any syscall, `using`, and a signal that tells pending waits the
// handle is gone.
import { closedError, type IpcError } from "./error.ts";
import { forgetDescriptor } from "./reactor.ts";

/**
 * A handle on an operating-system resource: `close()` is idempotent, use
 * after close throws `EBADF` before any syscall, and `closing` aborts so
 * that pending waits stop before the resource is released.
 *
 * @example A handle on an eventfd
 * ```ts
 * import { Handle, libc } from "@ipckit/ipc/ffi";
 *
 * class Counter extends Handle {
 *   readonly fd = libc().eventfd(0, 0x80800);
 *   constructor() { super("eventfd"); }
 *   protected release(): void { libc().close(this.fd); }
 * }
 * using c = new Counter();
 * console.log(c.closed); // false
 * ```
 */
export abstract class Handle implements Disposable {
  readonly #what: string;
  readonly #path: string | undefined;
  #closing: AbortController | undefined;
  #closed = false;

  /**
   * Starts a handle's life (open).
   *
   * @param what The kind of handle, for messages (`"message queue"`).
   * @param path The object's name or path, when it has one.
   */
  protected constructor(what: string, path?: string) {
    this.#what = what;
    this.#path = path;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Aborts when the handle closes; made on first use. */
  protected get closing(): AbortSignal {
    this.#closing ??= new AbortController();
    return this.#closing.signal;
  }

  /** The error for use after close (`EBADF`). */
  protected closedError(syscall: string): IpcError {
    return closedError(this.#what, this.#path, syscall);
  }

  /** Throws `EBADF` when closed. */
  protected checkOpen(syscall: string): void {
    if (this.#closed) throw this.closedError(syscall);
  }

  /** Releases the resource; called once, by the first `close()`. */
  protected abstract release(): void;

  /**
   * Closes the handle: pending waits reject with `EBADF`, then the resource
   * is released. Closing twice is a no-op.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing?.abort(this.closedError("close"));
    this.release();
  }

  /** Closes the handle (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A handle that owns a file descriptor: `fd` throws once closed, and
 * closing stops every reactor wait on the descriptor before it is closed
 * (so its number can never be waited on after reuse).
 *
 * @example
 * ```ts
 * import { DescriptorHandle, libc } from "@ipckit/ipc/ffi";
 *
 * class Counter extends DescriptorHandle {
 *   constructor() { super(libc().eventfd(0, 0x80800), "eventfd"); }
 *   protected closeDescriptor(fd: number): void { libc().close(fd); }
 * }
 * using c = new Counter();
 * console.log(c.fd >= 0); // true
 * ```
 */
export abstract class DescriptorHandle extends Handle {
  readonly #fd: number;

  /**
   * Takes ownership of a descriptor.
   *
   * @param fd The descriptor this handle owns.
   * @param what The kind of handle, for messages.
   * @param path The object's name or path, when it has one.
   */
  protected constructor(fd: number, what: string, path?: string) {
    super(what, path);
    this.#fd = fd;
  }

  /**
   * The descriptor. Raw escape hatch: it stays owned by the handle.
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    this.checkOpen("fd");
    return this.#fd;
  }

  /** The descriptor, or `EBADF` naming `syscall` when closed. */
  protected descriptor(syscall: string): number {
    this.checkOpen(syscall);
    return this.#fd;
  }

  /** Closes the descriptor itself (close(2), mq_close(3), ...). */
  protected abstract closeDescriptor(fd: number): void;

  /** Stops the reactor's waits on the descriptor, then closes it. */
  protected release(): void {
    forgetDescriptor(this.#fd, this.closedError("close"));
    this.closeDescriptor(this.#fd);
  }
}
