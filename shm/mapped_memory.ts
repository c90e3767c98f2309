import { closedError } from "../ffi/mod.ts";
import type { Region } from "./_region.ts";

/**
 * A typed-array constructor that `view()` accepts: `Int32Array`,
 * `Float64Array`, `BigInt64Array`, `Uint8Array` and the rest.
 */
export interface TypedArrayConstructor<T extends ArrayBufferView> {
  /** Makes a view over a buffer. */
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  /** Bytes per element; a view's byte offset must be a multiple of it. */
  readonly BYTES_PER_ELEMENT: number;
  /** The constructor's name, for messages. */
  readonly name: string;
}

/**
 * What every mapped handle of this module shares: {@linkcode SharedMemory},
 * {@linkcode MappedFile}, {@linkcode Memfd} and {@linkcode SysvSharedMemory}
 * all extend it. The memory this process has mapped is seen as one
 * `ArrayBuffer` ({@linkcode MappedMemory.buffer}), without copies, with
 * checked typed views ({@linkcode MappedMemory.view}) and copying reads
 * ({@linkcode MappedMemory.read}, {@linkcode MappedMemory.readInto}) that
 * also work when the memory is mapped read-only.
 *
 * When the mapping goes away (`close()`, or a resize that replaces it) the
 * buffer is detached: its `byteLength` becomes 0 and every typed array over
 * it reads as empty, so a stale view never touches unmapped memory. After
 * `close()` every member but `closed` and `close()` throws an `IpcError`
 * with code `EBADF` before any syscall.
 *
 * Not constructed directly: get one from `SharedMemory.open()`,
 * `mapFile()`, `createMemfd()` or `SysvSharedMemory.open()`. Write code
 * that only reads and writes memory against this type to accept any of
 * them.
 *
 * @example A function that takes any kind of mapped memory
 * ```ts
 * import { type MappedMemory, SharedMemory } from "@ipckit/ipc/shm";
 *
 * function bump(memory: MappedMemory): number {
 *   return Atomics.add(memory.view(Int32Array, 0, 1), 0, 1) + 1;
 * }
 *
 * using shm = SharedMemory.temporary({ size: 4096 });
 * console.log(bump(shm)); // 1
 * ```
 */
export abstract class MappedMemory implements Disposable {
  #region: Region | undefined;
  #what: string;
  #label: string;
  #mapSyscall: string;

  /**
   * For subclasses: takes ownership of `region`.
   *
   * @param region The mapping.
   * @param what The kind of object, for messages (`"shared memory"`).
   * @param label The object's name or path, for messages.
   * @param mapSyscall The syscall that made the mapping (`"mmap"`), named
   *   in the error when `buffer` or `view()` is used after close.
   */
  protected constructor(
    region: Region,
    what: string,
    label: string,
    mapSyscall: string,
  ) {
    this.#region = region;
    this.#what = what;
    this.#label = label;
    this.#mapSyscall = mapSyscall;
  }

  /**
   * For subclasses: the mapping, or an `EBADF` error naming `syscall` when
   * closed.
   *
   * @param syscall The syscall the caller was about to make.
   * @returns The mapping.
   * @throws {IpcError} `EBADF` when closed.
   * @ignore
   */
  protected mapping(syscall: string): Region {
    if (this.#region === undefined) {
      throw closedError(this.#what, this.#label, syscall);
    }
    return this.#region;
  }

  /**
   * For subclasses: puts `region` in place of the current mapping, then
   * detaches the old buffer and unmaps the old region.
   *
   * @param region The new mapping.
   * @ignore
   */
  protected replaceMapping(region: Region): void {
    const old = this.#region;
    this.#region = region;
    old?.release();
  }

  /**
   * For subclasses: marks the handle closed, detaches the buffer and
   * unmaps the memory. Returns `false` when the handle was closed already.
   *
   * @returns Whether there was a mapping to release.
   * @ignore
   */
  protected releaseMapping(): boolean {
    const region = this.#region;
    if (region === undefined) return false;
    this.#region = undefined;
    region.release();
    return true;
  }

  /**
   * Whether {@linkcode MappedMemory.close} has been called.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * const shm = SharedMemory.temporary({ size: 16 });
   * shm.close();
   * console.log(shm.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#region === undefined;
  }

  /**
   * Bytes mapped by this handle. When another process resizes a
   * {@linkcode SharedMemory}, this stays the same until
   * {@linkcode SharedMemory.remap}.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 4096 });
   * console.log(shm.size); // 4096
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get size(): number {
    return this.mapping("size").size;
  }

  /**
   * The mapping as one `ArrayBuffer`, zero copy: the same object on every
   * read until `close()` (or `SharedMemory.resize()`/`remap()`) replaces
   * the mapping; those detach this buffer (its `byteLength` becomes 0 and
   * every typed array over it reads as empty), so a stale view never
   * touches unmapped memory. Take views again after those calls.
   *
   * Transferring the buffer (`buffer.transfer()`, a `postMessage` or
   * `structuredClone` transfer) moves the memory out of the handle's
   * reach: the handle then makes a new buffer, and closing leaves the moved
   * one over private zeroed memory rather than unmapped memory, so it can
   * never crash the process; it no longer sees the shared bytes.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 8 });
   * const bytes = new Uint8Array(shm.buffer);
   * bytes[0] = 42;
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   * @throws {TypeError} When mapped read-only (`access: "read"`, a
   *   read-only `mapFile()`, a write-sealed or read-only memfd): JavaScript cannot make a read-only
   *   `ArrayBuffer`, and a write into read-only memory would kill the
   *   process with SIGSEGV. Use `read()`/`readInto()` instead.
   */
  get buffer(): ArrayBuffer {
    return this.mapping(this.#mapSyscall).buffer(this.#what);
  }

  /**
   * A typed array over part of the mapping, checked: the offset must be a
   * multiple of the element size (what `Atomics` and the CPU need) and the
   * view must fit. Detached like {@linkcode MappedMemory.buffer}.
   *
   * @example A cross-process counter at byte 8
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 64 });
   * const words = shm.view(Int32Array, 8, 2);
   * Atomics.store(words, 0, 5);
   * console.log(Atomics.load(words, 0)); // 5
   * ```
   *
   * @param type The typed-array constructor, such as `Int32Array`.
   * @param byteOffset Where the view starts; a multiple of
   *   `type.BYTES_PER_ELEMENT`.
   * @param length Elements; by default as many as fit.
   * @returns The view.
   * @throws {TypeError} When `type` is not a typed-array constructor
   *   (`DataView` included), or `byteOffset` or `length` is not a number.
   * @throws {RangeError} When the offset is misaligned or either is out of
   *   range.
   * @throws {IpcError} `EBADF` when closed.
   * @throws {TypeError} When mapped read-only (see
   *   {@linkcode MappedMemory.buffer}).
   */
  view<T extends ArrayBufferView>(
    type: TypedArrayConstructor<T>,
    byteOffset = 0,
    length?: number,
  ): T {
    return this.mapping(this.#mapSyscall).view(
      type,
      byteOffset,
      length,
      this.#what,
    );
  }

  /**
   * Copies bytes out of the mapping; works when mapped read-only too.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 16 });
   * console.log(shm.read(0, 4)); // Uint8Array(4) [ 0, 0, 0, 0 ]
   * ```
   *
   * @param byteOffset Where to start.
   * @param length How many bytes; by default up to the end.
   * @returns A copy the caller owns.
   * @throws {TypeError} When `byteOffset` or `length` is not a number.
   * @throws {RangeError} When out of range.
   * @throws {IpcError} `EBADF` when closed.
   */
  read(byteOffset = 0, length?: number): Uint8Array {
    return this.mapping("read").read(byteOffset, length);
  }

  /**
   * Copies bytes from the mapping into `target` (as many as fit, up to the
   * end of the mapping); works when mapped read-only too.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 16 });
   * const target = new Uint8Array(8);
   * console.log(shm.readInto(target, 8)); // 8
   * ```
   *
   * @param target Where to copy to: every byte of any typed array,
   *   `DataView` or `ArrayBuffer`.
   * @param byteOffset Where to start in the mapping.
   * @returns The number of bytes copied.
   * @throws {TypeError} When `target` is not an `ArrayBuffer` or
   *   `ArrayBufferView`, or `byteOffset` is not a number.
   * @throws {RangeError} When the offset is out of range.
   * @throws {IpcError} `EBADF` when closed.
   */
  readInto(target: ArrayBufferView | ArrayBuffer, byteOffset = 0): number {
    return this.mapping("read").readInto(target, byteOffset);
  }

  /**
   * Copies every byte of `data` into the mapping at `byteOffset`: a string
   * as UTF-8, and all `byteLength` bytes of any typed array, `DataView` or
   * `ArrayBuffer` (an `Int32Array` of 2 elements is 8 bytes). Nothing is
   * written unless all of it fits.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 16 });
   * console.log(shm.write(new Int32Array([1, 2]), 4)); // 8
   * console.log(shm.read(4, 4)); // Uint8Array(4) [ 1, 0, 0, 0 ]
   * ```
   *
   * @param data The bytes.
   * @param byteOffset Where to start in the mapping.
   * @returns The number of bytes written (`data`'s byte length).
   * @throws {TypeError} When `data` is not a string, `ArrayBuffer` or
   *   `ArrayBufferView`, or `byteOffset` is not a number; when mapped
   *   read-only (see {@linkcode MappedMemory.buffer}).
   * @throws {RangeError} When the offset is out of range or the bytes do
   *   not fit.
   * @throws {IpcError} `EBADF` when closed.
   */
  write(
    data: string | ArrayBufferView | ArrayBuffer,
    byteOffset = 0,
  ): number {
    return this.mapping("write").write(data, byteOffset, this.#what);
  }

  /**
   * Unmaps the memory (and closes what else the handle holds); the
   * `buffer` and its views are detached. What happens to the object itself
   * depends on its kind: see the subclass. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * const shm = SharedMemory.temporary({ size: 16 });
   * shm.close();
   * shm.close(); // no-op
   * ```
   */
  abstract close(): void;

  /**
   * Same as {@linkcode MappedMemory.close}, for `using`.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * {
   *   using shm = SharedMemory.temporary({ size: 16 });
   *   shm.read(0, 1);
   * } // closed (and, being temporary, unlinked) here
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }
}
