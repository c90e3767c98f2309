// What every shm/ handle shares: checks at the door (sizes, modes, access,
// offsets), mapping a descriptor, typed views with bounds and alignment
// checks, detaching buffers the mapping no longer backs, fstat/fstatvfs, the
// memory a tmpfs can draw on, and reserving space before anything touches it.
import {
  addressOfPointer,
  describeValue,
  errno,
  type FileStatus,
  IpcError,
  type IpcErrorOptions,
  libc,
  type Pointer,
  readKernelFile,
  sys,
  toBytes,
  toWritableBytes,
  viewMemory,
} from "../ffi/mod.ts";
import type { TypedArrayConstructor } from "./mapped_memory.ts";
import { STATVFS } from "./_layout.ts";

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const ENOENT = 2;
const EINTR = 4;
const EEXIST = 17;
const EOPNOTSUPP = 95;
const ENOSPC = 28;

/** File types (the `S_IFMT` bits of `st_mode`). */
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
const TYPE_NAMES: Record<number, string> = {
  0o010000: "a FIFO (named pipe)",
  0o020000: "a character device",
  0o040000: "a directory",
  0o060000: "a block device",
  0o100000: "a regular file",
  0o120000: "a symbolic link",
  0o140000: "a socket",
};

/**
 * The bytes that can be mapped from a descriptor: `st_size` for a regular
 * file, the device's size (from /sys/dev/block) for a block device. Anything
 * else (a FIFO, which would block the thread, a directory, a character
 * device, a socket) is refused with `ENODEV` before mmap(2) sees it.
 */
export function mappableSize(
  status: FileStatus,
  failure: IpcErrorOptions,
): number {
  if (status.type === S_IFREG) return status.size;
  if (status.type === S_IFBLK) {
    // glibc's gnu_dev_major/gnu_dev_minor.
    const dev = status.rdev;
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
    const sectors = Number(
      readKernelFile(`/sys/dev/block/${major}:${minor}/size`, 64)?.trim(),
    );
    if (Number.isSafeInteger(sectors)) return sectors * 512;
    throw new IpcError("ENODEV", {
      ...failure,
      syscall: "fstat",
      hint: `The size of block device ${major}:${minor} is unknown ` +
        `(/sys/dev/block/${major}:${minor}/size cannot be read)`,
    });
  }
  throw new IpcError("ENODEV", {
    ...failure,
    syscall: "fstat",
    hint: `It is ${
      TYPE_NAMES[status.type] ?? "not a regular file"
    }: only regular files and block devices can be mapped`,
  });
}

/**
 * Bytes an unprivileged user may still allocate on the descriptor's file
 * system (`Infinity` when it has no limit).
 */
function freeSpace(fd: number, failure: IpcErrorOptions): number {
  const buf = new BigUint64Array(STATVFS.size / 8);
  sys(() => libc().fstatvfs(fd, buf), { ...failure, syscall: "fstatvfs" });
  // A tmpfs without a size limit (the kernel's own mount behind memfd)
  // reports no blocks at all.
  if (buf[STATVFS.blocks / 8] === 0n) return Infinity;
  return Number(buf[STATVFS.frsize / 8]) * Number(buf[STATVFS.bavail / 8]);
}

/** File systems whose files are memory (growing them takes RAM). */
const MEMORY_FILE_SYSTEMS = new Set(["tmpfs", "ramfs", "hugetlbfs"]);

/**
 * Whether the file system of device `dev` (fstat's `st_dev`) lives in memory
 * (tmpfs, ramfs), from /proc/self/mountinfo, read through libc.
 */
export function inMemoryFileSystem(dev: bigint): boolean {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const device = `${major}:${minor}`;
  const mounts = readKernelFile("/proc/self/mountinfo", 1 << 20) ?? "";
  for (const line of mounts.split("\n")) {
    const fields = line.split(" ");
    if (fields[2] !== device) continue;
    const type = fields[fields.indexOf("-") + 1];
    return type !== undefined && MEMORY_FILE_SYSTEMS.has(type);
  }
  return false;
}

/** The memory that can back tmpfs pages, in bytes. */
interface MemoryLimits {
  /** The most there could ever be: RAM + swap, or the memory cgroup's limit. */
  total: number;
  /** Where `total` comes from, for messages. */
  totalSource: string;
  /** What can be had now without reclaiming: MemAvailable + SwapFree. */
  available: number;
}

function meminfo(): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of (readKernelFile("/proc/meminfo") ?? "").split("\n")) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m?.[1] !== undefined) fields.set(m[1], Number(m[2]) * 1024);
  }
  return fields;
}

/** The memory cgroup's limit on this process, when there is one. */
function cgroupLimit(): number | undefined {
  const cgroups = readKernelFile("/proc/self/cgroup") ?? "";
  const candidates: string[] = [];
  for (const line of cgroups.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers === undefined || path === undefined) continue;
    if (controllers === "") {
      // cgroup v2: the path, then the root of the mount (a cgroup namespace
      // shows the process its own group as "/").
      candidates.push(`/sys/fs/cgroup${path}/memory.max`);
      candidates.push("/sys/fs/cgroup/memory.max");
    } else if (controllers.split(",").includes("memory")) {
      candidates.push(`/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`);
      candidates.push("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    }
  }
  for (const file of candidates) {
    const text = readKernelFile(file, 64)?.trim();
    if (text === undefined) continue;
    const n = Number(text); // "max" (v2, no limit) is NaN
    // v1 writes "no limit" as a number near 2^63.
    return Number.isFinite(n) && n < 2 ** 62 ? n : undefined;
  }
  return undefined;
}

/**
 * How much memory tmpfs pages (`/dev/shm`, memfds, System V segments) can
 * draw on, read through libc from /proc/meminfo and the memory cgroup.
 */
function memoryLimits(): MemoryLimits {
  const info = meminfo();
  const ram = info.get("MemTotal");
  if (ram === undefined) {
    return { total: Infinity, totalSource: "unknown", available: Infinity };
  }
  const swap = info.get("SwapTotal") ?? 0;
  let total = ram + swap;
  let totalSource = `RAM + swap, ${ram + swap} bytes`;
  const cgroup = cgroupLimit();
  if (cgroup !== undefined && cgroup < total) {
    total = cgroup;
    totalSource = `the memory cgroup's limit, ${cgroup} bytes`;
  }
  const available = (info.get("MemAvailable") ?? info.get("MemFree") ?? 0) +
    (info.get("SwapFree") ?? 0);
  return { total, totalSource, available: Math.min(available, total) };
}

/**
 * Refuses, before anything is allocated, memory the machine cannot hold:
 * a `RangeError` when `size` is more than it will ever have (RAM + swap, or
 * the memory cgroup's limit), and `ENOMEM` when the `growth` about to be
 * reserved is more than is available now (reserving it would wake the OOM
 * killer). `limits` is a snapshot of {@linkcode memoryLimits}, read now
 * when not given.
 */
export function checkMemory(
  size: number,
  growth: number,
  what: string,
  failure: IpcErrorOptions,
  limits: MemoryLimits = memoryLimits(),
): void {
  if (size > limits.total) {
    throw new RangeError(
      `size ${size} is more than this machine's memory can hold for ${what} ` +
        `(${limits.totalSource})`,
    );
  }
  if (growth > limits.available) {
    throw new IpcError("ENOMEM", {
      ...failure,
      syscall: "posix_fallocate",
      hint: `${growth} bytes asked, ${limits.available} available ` +
        `(MemAvailable + SwapFree in /proc/meminfo): reserving them would ` +
        `wake the OOM killer`,
    });
  }
}

/**
 * Makes `[from, to)` of the file real memory before it is mapped: first
 * fstatvfs(3) checks the free space (a tmpfs that is too small) and, for
 * memory-backed files (`inMemory`), what the machine's memory can hold,
 * then posix_fallocate(3) reserves the pages, so running out is an error
 * here and never a SIGBUS on first touch or a visit from the OOM killer.
 */
export function reserve(
  fd: number,
  from: number,
  to: number,
  failure: IpcErrorOptions,
  where: string,
  inMemory: boolean,
): void {
  if (to <= from) return;
  // One reading of /proc/meminfo and the cgroup for both checks.
  const limits = inMemory ? memoryLimits() : undefined;
  if (limits) checkMemory(to, 0, where, failure, limits);
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
  if (limits) checkMemory(to, to - from, where, failure, limits);
  for (;;) {
    const error = libc().posix_fallocate(fd, from, to - from);
    if (error === 0) return;
    if (error === EINTR) continue;
    // Not every file system can reserve (EOPNOTSUPP): then the free-space
    // check above is all there is.
    if (error === EOPNOTSUPP) return;
    throw new IpcError(error, {
      ...failure,
      syscall: "posix_fallocate",
      hint: error === ENOSPC
        ? `no room for ${to - from} bytes on ${where}`
        : "",
    });
  }
}

/**
 * Checks a size in bytes: a positive safe integer (`TypeError` for a
 * non-number, `RangeError` for anything else).
 */
export function checkSize(size: unknown, what = "size"): number {
  if (typeof size !== "number") {
    throw new TypeError(
      `${what} must be a number of bytes, got ${describeValue(size)}`,
    );
  }
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new RangeError(
      `${what} must be a positive integer number of bytes (at most 2^53-1), got ${size}`,
    );
  }
  return size;
}

/** What a handle may do with the memory. */
export type Access = "read" | "read-write";

/**
 * Checks an `access` option; `undefined` gives `fallback`. A deprecated
 * boolean spelling (`writable`, `readOnly`) is honoured when `access` is
 * absent, and must agree with it when both are given.
 */
export function checkAccess(
  access: unknown,
  fallback: Access,
  deprecated?: { name: string; writable: unknown },
): Access {
  if (access !== undefined && access !== "read" && access !== "read-write") {
    throw new TypeError(
      `access must be "read" or "read-write", got ${describeValue(access)}`,
    );
  }
  if (deprecated === undefined || deprecated.writable === undefined) {
    return access ?? fallback;
  }
  const { name, writable } = deprecated;
  if (typeof writable !== "boolean") {
    throw new TypeError(
      `${name} must be a boolean, got ${describeValue(writable)}`,
    );
  }
  const implied: Access = writable ? "read-write" : "read";
  if (access !== undefined && access !== implied) {
    throw new TypeError(
      `access "${access}" contradicts the deprecated ${name} option; pass access alone`,
    );
  }
  return implied;
}

/** How {@linkcode openOrCreate} opens a named object. */
export interface OpenOrCreate {
  /** Create the object when it is missing. */
  create: boolean;
  /** With `create`, fail with `EEXIST` when it exists. */
  exclusive: boolean;
  /** Creates the object exclusively (`O_CREAT|O_EXCL`, `IPC_CREAT|IPC_EXCL`): a handle, or -1 with errno set. */
  tryCreate: () => number;
  /** Opens the existing object: a handle, or -1 with errno set. */
  tryOpen: () => number;
  /** What to say when it fails. */
  failure: IpcErrorOptions;
  /** A hint for an errno code, or `undefined` for none. */
  hint: (code: string) => string | undefined;
}

/**
 * Opens a named object, creating it first when `create` is set, and says
 * whether this call made it. The exclusive create comes first, so the
 * answer is exact; on `EEXIST` the object is opened, and if it vanished in
 * between (`ENOENT`) the exclusive create is tried again. `EINTR` is
 * retried.
 */
export function openOrCreate(
  o: OpenOrCreate,
): { handle: number; created: boolean } {
  const fail = (e: number): IpcError => {
    const code = new IpcError(e, o.failure).code;
    const hint = o.hint(code) ?? o.failure.hint;
    return new IpcError(e, { ...o.failure, hint });
  };
  for (;;) {
    if (o.create) {
      const handle = o.tryCreate();
      if (handle !== -1) return { handle, created: true };
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EEXIST || o.exclusive) throw fail(e);
    }
    const handle = o.tryOpen();
    if (handle !== -1) return { handle, created: false };
    const e = errno();
    if (e === EINTR) continue;
    // Removed between the EEXIST and the open: create it after all.
    if (e === ENOENT && o.create) continue;
    throw fail(e);
  }
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
  return new Region(pointer, size, writable, "munmap");
}

/** %TypedArray%, the prototype of every typed-array constructor. */
const TypedArray = Object.getPrototypeOf(Int8Array);

function checkOffset(byteOffset: unknown, size: number): number {
  if (typeof byteOffset !== "number") {
    throw new TypeError(
      `byteOffset must be an integer, got ${describeValue(byteOffset)}`,
    );
  }
  if (
    !Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset > size
  ) {
    throw new RangeError(
      `byteOffset must be an integer from 0 to ${size}, got ${byteOffset}`,
    );
  }
  return byteOffset;
}

function checkLength(length: unknown, fallback: number): number {
  if (length === undefined) return fallback;
  if (typeof length !== "number") {
    throw new TypeError(
      `length must be an integer or undefined, got ${describeValue(length)}`,
    );
  }
  return length;
}

/**
 * Memory the process has mapped, seen through one ArrayBuffer. When the
 * memory goes away (unmapped, or replaced on resize) the buffer is detached
 * (`transfer(0)`), so every typed array over it reads as empty instead of
 * touching unmapped memory.
 *
 * A buffer can escape that: `buffer.transfer()` or a `postMessage` /
 * `structuredClone` transfer moves the memory into a new ArrayBuffer this
 * region never sees. Then unmapping would leave that buffer over nothing
 * (SIGSEGV on the next touch), so the region is instead replaced by private
 * anonymous memory: the shared memory is let go, the stray buffer reads
 * zeros, and only the address range stays reserved.
 */
export class Region {
  readonly pointer: Pointer;
  readonly size: number;
  readonly writable: boolean;
  #unmap: "munmap" | "shmdt";
  #buffer: ArrayBuffer | undefined;
  #escaped = false;
  #released = false;

  constructor(
    pointer: Pointer,
    size: number,
    writable: boolean,
    unmap: "munmap" | "shmdt",
  ) {
    this.pointer = pointer;
    this.size = size;
    this.writable = writable;
    this.#unmap = unmap;
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
    let buffer = this.#buffer;
    if (buffer !== undefined && buffer.byteLength === 0) {
      // Moved away (transfer(), postMessage): a new buffer for this handle,
      // and no munmap under the old one.
      this.#escaped = true;
      buffer = undefined;
    }
    return this.#buffer = buffer ?? viewMemory(this.pointer, this.size);
  }

  view<T extends ArrayBufferView>(
    type: TypedArrayConstructor<T>,
    byteOffset: unknown,
    length: unknown,
    what: string,
  ): T {
    if (
      typeof type !== "function" || !(type.prototype instanceof TypedArray)
    ) {
      throw new TypeError(
        `view() takes a typed-array constructor such as Int32Array, got ${
          describeValue(type)
        }`,
      );
    }
    const bytes = type.BYTES_PER_ELEMENT;
    const from = checkOffset(byteOffset, this.size);
    if (from % bytes !== 0) {
      throw new RangeError(
        `byteOffset ${from} is not aligned for ${type.name}: it must be a multiple of ${bytes}`,
      );
    }
    const room = Math.floor((this.size - from) / bytes);
    const count = checkLength(length, room);
    if (!Number.isSafeInteger(count) || count < 0 || count > room) {
      throw new RangeError(
        `length ${count} of ${type.name} at byte ${from} is out of range: at most ${room} fit in ${this.size} bytes`,
      );
    }
    return new type(this.buffer(what), from, count);
  }

  /** Copies `length` bytes at `byteOffset` out of the region. */
  read(byteOffset: unknown, length: unknown): Uint8Array {
    const from = checkOffset(byteOffset, this.size);
    const count = checkLength(length, this.size - from);
    this.#checkRange(from, count);
    return new Uint8Array(viewMemory(this.pointer, this.size), from, count)
      .slice();
  }

  /** Copies from the region into `target`, starting at `byteOffset`. */
  readInto(target: unknown, byteOffset: unknown): number {
    const bytes = toWritableBytes(target, "target");
    const from = checkOffset(byteOffset, this.size);
    const count = Math.min(bytes.length, this.size - from);
    bytes.set(
      new Uint8Array(viewMemory(this.pointer, this.size), from, count),
    );
    return count;
  }

  /** Copies every byte of `data` into the region at `byteOffset`. */
  write(data: unknown, byteOffset: unknown, what: string): number {
    const bytes = toBytes(data, "data");
    const from = checkOffset(byteOffset, this.size);
    if (bytes.length > this.size - from) {
      throw new RangeError(
        `${bytes.length} bytes at byte ${from} do not fit in ${this.size} bytes`,
      );
    }
    new Uint8Array(this.buffer(what), from, bytes.length).set(bytes);
    return bytes.length;
  }

  #checkRange(from: number, count: number): void {
    if (!Number.isSafeInteger(count) || count < 0 || count > this.size - from) {
      throw new RangeError(
        `length ${count} at byte ${from} is out of range (${this.size} bytes)`,
      );
    }
  }

  /**
   * Detaches the buffer and unmaps the memory (munmap(2) or shmdt(2)); if a
   * buffer over it escaped, puts private anonymous memory in its place
   * instead (see the class). Runs once.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const buffer = this.#buffer;
    this.#buffer = undefined;
    if (buffer !== undefined) {
      if (buffer.byteLength === 0) {
        this.#escaped = true;
      } else {
        (buffer as ArrayBuffer & { transfer(n: number): ArrayBuffer })
          .transfer(0);
      }
    }
    if (this.#escaped) {
      // MAP_FIXED replaces the mapping (a System V attachment included) in
      // one step: no moment when the addresses are unmapped.
      // If even that fails, the memory stays mapped: a leak, not a crash.
      libc().mmap(
        this.pointer,
        this.size,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
        -1,
        0,
      );
      return;
    }
    if (this.#unmap === "shmdt") libc().shmdt(this.pointer);
    else libc().munmap(this.pointer, this.size);
  }
}
