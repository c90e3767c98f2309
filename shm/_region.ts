// What every shm/ handle shares: mapping a descriptor, typed views with
// bounds and alignment checks, detaching buffers the mapping no longer backs,
// fstat/fstatvfs, and reserving tmpfs space before anything touches it.
import {
  addressOfPointer,
  IpcError,
  type IpcErrorOptions,
  libc,
  type Pointer,
  sys,
  viewMemory,
} from "../ffi/mod.ts";
import type { TypedArrayConstructor } from "./mapped_memory.ts";
import { STAT, STATVFS } from "./_layout.ts";

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
const EINTR = 4;

/** fstat(2): size and mode of a descriptor. */
export function fileStatus(
  fd: number,
  failure: IpcErrorOptions,
): { size: number; mode: number; uid: number } {
  const buf = new BigInt64Array(144 / 8); // the larger of the two layouts
  sys(() => libc().fstat(fd, buf), { ...failure, syscall: "fstat" });
  const view = new DataView(buf.buffer);
  return {
    size: Number(view.getBigInt64(STAT.bytes, true)),
    mode: view.getUint32(STAT.mode, true) & 0o7777,
    uid: view.getUint32(STAT.uid, true),
  };
}

/**
 * Bytes an unprivileged user may still allocate on the descriptor's file
 * system (`Infinity` when it has no limit).
 */
export function freeSpace(fd: number, failure: IpcErrorOptions): number {
  const buf = new BigUint64Array(STATVFS.size / 8);
  sys(() => libc().fstatvfs(fd, buf), { ...failure, syscall: "fstatvfs" });
  // A tmpfs without a size limit (the kernel's own mount behind memfd)
  // reports no blocks at all.
  if (buf[STATVFS.blocks / 8] === 0n) return Infinity;
  return Number(buf[STATVFS.frsize / 8]) * Number(buf[STATVFS.bavail / 8]);
}

/**
 * Makes `[from, to)` of the file real memory before it is mapped: first
 * fstatvfs(3) checks the free space (a tmpfs that is too small), then
 * posix_fallocate(3) reserves the pages, so running out is an `ENOSPC`
 * error here and never a SIGBUS on first touch.
 */
export function reserve(
  fd: number,
  from: number,
  to: number,
  failure: IpcErrorOptions,
  where: string,
): void {
  if (to <= from) return;
  const free = freeSpace(fd, failure);
  if (to - from > free) {
    throw new IpcError("ENOSPC", {
      ...failure,
      syscall: "fstatvfs",
      hint: `${to - from} bytes asked, ${free} free on ${where}` +
        (where === "/dev/shm"
          ? "; raise it with `mount -o remount,size=<bytes> /dev/shm`"
          : ""),
    });
  }
  for (;;) {
    const error = libc().posix_fallocate(fd, from, to - from);
    if (error === 0) return;
    if (error === EINTR) continue;
    // Not every file system can reserve (EOPNOTSUPP): then the free-space
    // check above is all there is.
    if (error === 95) return;
    throw new IpcError(error, {
      ...failure,
      syscall: "posix_fallocate",
      hint: error === 28 ? `no room for ${to - from} bytes on ${where}` : "",
    });
  }
}

/** Throws RangeError unless `size` is a positive safe integer. */
export function checkSize(size: unknown, what = "size"): number {
  if (
    typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0
  ) {
    throw new RangeError(
      `${what} must be a positive integer number of bytes, got ${String(size)}`,
    );
  }
  return size;
}

/** Throws RangeError unless `mode` is a permission mode. */
export function checkMode(mode: unknown, max = 0o7777): number {
  if (
    typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 ||
    mode > max
  ) {
    throw new RangeError(
      `mode must be an integer from 0 to 0o${max.toString(8)}, got ${
        String(mode)
      }`,
    );
  }
  return mode;
}

/** Whether a returned pointer is NULL or MAP_FAILED ((void*)-1). */
export function failedPointer(pointer: Pointer | null): boolean {
  const address = Number(addressOfPointer(pointer));
  return address === 0 || address >= 2 ** 63;
}

/** mmap(2) of `size` bytes of `fd`; throws IpcError on failure. */
export function mapDescriptor(
  fd: number,
  size: number,
  prot: number,
  flags: number,
  failure: IpcErrorOptions,
): Pointer {
  for (;;) {
    const pointer = libc().mmap(null, size, prot, flags, fd, 0);
    if (!failedPointer(pointer)) return pointer!;
    sys(() => -1, { ...failure, syscall: "mmap" });
  }
}

/**
 * Maps all `size` bytes of `fd` (mmap(2)) as a Region, readable and, when
 * `writable`, writable. An empty object cannot be mapped: `EINVAL` (from
 * fstat) with the options `empty` (`failure` and a hint, as a rule).
 */
export function mapRegion(
  fd: number,
  size: number,
  writable: boolean,
  flags: number,
  failure: IpcErrorOptions,
  empty: IpcErrorOptions,
): Region {
  if (size === 0) throw new IpcError("EINVAL", { ...empty, syscall: "fstat" });
  const prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  const pointer = mapDescriptor(fd, size, prot, flags, failure);
  return new Region(pointer, size, writable);
}

/**
 * Memory the process has mapped, seen through one ArrayBuffer. When the
 * memory goes away (unmapped, or replaced on resize) the buffer is detached
 * (`transfer(0)`), so every typed array over it reads as empty instead of
 * touching unmapped memory.
 */
export class Region {
  readonly pointer: Pointer;
  readonly size: number;
  readonly writable: boolean;
  #buffer: ArrayBuffer | undefined;

  constructor(pointer: Pointer, size: number, writable: boolean) {
    this.pointer = pointer;
    this.size = size;
    this.writable = writable;
  }

  /** The buffer over the whole region (one object for the region's life). */
  buffer(what: string): ArrayBuffer {
    if (!this.writable) {
      throw new TypeError(
        `The ${what} is mapped read-only: JavaScript cannot make a read-only ` +
          `ArrayBuffer, and a write to it would kill the process (SIGSEGV). ` +
          `Use read()/readInto(), or map it writable`,
      );
    }
    return this.#buffer ??= viewMemory(this.pointer, this.size);
  }

  view<T extends ArrayBufferView>(
    type: TypedArrayConstructor<T>,
    byteOffset: number,
    length: number | undefined,
    what: string,
  ): T {
    const bytes = type?.BYTES_PER_ELEMENT;
    if (typeof bytes !== "number") {
      throw new TypeError(
        "view() takes a typed-array constructor such as Int32Array",
      );
    }
    if (
      !Number.isSafeInteger(byteOffset) || byteOffset < 0 ||
      byteOffset > this.size
    ) {
      throw new RangeError(
        `byteOffset must be an integer from 0 to ${this.size}, got ${byteOffset}`,
      );
    }
    if (byteOffset % bytes !== 0) {
      throw new RangeError(
        `byteOffset ${byteOffset} is not aligned for ${type.name}: it must be a multiple of ${bytes}`,
      );
    }
    const room = Math.floor((this.size - byteOffset) / bytes);
    const count = length ?? room;
    if (!Number.isSafeInteger(count) || count < 0 || count > room) {
      throw new RangeError(
        `length ${count} of ${type.name} at byte ${byteOffset} is out of range: at most ${room} fit in ${this.size} bytes`,
      );
    }
    return new type(this.buffer(what), byteOffset, count);
  }

  /** Copies `length` bytes at `byteOffset` out of the region. */
  read(byteOffset: number, length: number | undefined): Uint8Array {
    const [from, count] = this.#range(byteOffset, length);
    return new Uint8Array(viewMemory(this.pointer, this.size), from, count)
      .slice();
  }

  /** Copies from the region into `target`, starting at `byteOffset`. */
  readInto(target: Uint8Array, byteOffset: number): number {
    if (!(target instanceof Uint8Array)) {
      throw new TypeError("readInto() takes a Uint8Array");
    }
    const [from, count] = this.#range(
      byteOffset,
      Math.min(target.length, this.size - Math.min(byteOffset, this.size)),
    );
    target.set(
      new Uint8Array(viewMemory(this.pointer, this.size), from, count),
    );
    return count;
  }

  #range(byteOffset: number, length: number | undefined): [number, number] {
    if (
      !Number.isSafeInteger(byteOffset) || byteOffset < 0 ||
      byteOffset > this.size
    ) {
      throw new RangeError(
        `byteOffset must be an integer from 0 to ${this.size}, got ${byteOffset}`,
      );
    }
    const count = length ?? this.size - byteOffset;
    if (
      !Number.isSafeInteger(count) || count < 0 ||
      count > this.size - byteOffset
    ) {
      throw new RangeError(
        `length ${count} at byte ${byteOffset} is out of range (${this.size} bytes)`,
      );
    }
    return [byteOffset, count];
  }

  /** Detaches the buffer; the caller unmaps. */
  detach(): void {
    const buffer = this.#buffer;
    this.#buffer = undefined;
    if (buffer !== undefined && buffer.byteLength > 0) {
      (buffer as ArrayBuffer & { transfer(n: number): ArrayBuffer })
        .transfer(0);
    }
  }
}
