import {
  checkBoolean,
  checkInteger,
  checkOptions,
  cString,
  describeValue,
  IpcError,
  type IpcErrorOptions,
  libc,
  statDescriptor,
  sys,
} from "../ffi/mod.ts";
import {
  checkAccess,
  checkSize,
  MAP_SHARED,
  mapDescriptor,
  mappableSize,
  mapRegion,
  PROT_READ,
  PROT_WRITE,
  Region,
  reserve,
  S_IFBLK,
} from "./_region.ts";
import { MappedMemory } from "./mapped_memory.ts";

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const FD_CLOEXEC = 1;
const O_ACCMODE = 3;
const O_RDWR = 2;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;
const F_SEAL_WRITE = 8;
const F_SEAL_FUTURE_WRITE = 16;
const WHAT = "memfd";
/** memfd_create(2): a name is at most 249 bytes. */
const NAME_MAX = 249;
const encoder = new TextEncoder();

/** Seals of a memfd (fcntl(2) `F_ADD_SEALS`); each one is for good. */
export interface MemfdSeals {
  /**
   * Nobody may make it smaller (`F_SEAL_SHRINK`): a reader can never be
   * killed by SIGBUS because the memory was truncated under it.
   * @default {false}
   */
  shrink?: boolean | undefined;
  /**
   * Nobody may make it larger (`F_SEAL_GROW`).
   * @default {false}
   */
  grow?: boolean | undefined;
  /**
   * No new writes by anyone else (`F_SEAL_FUTURE_WRITE`, Linux 5.1): no
   * write(2), no new writable mapping, in this process or any receiver of
   * the descriptor. Mappings made before, such as this handle's own, stay
   * writable, so the creator fills the memory and readers cannot change
   * it. (`F_SEAL_WRITE` proper would fail while this handle's writable
   * mapping exists.)
   * @default {false}
   */
  write?: boolean | undefined;
  /**
   * No more seals may be added (`F_SEAL_SEAL`).
   * @default {false}
   */
  seal?: boolean | undefined;
}

/** Options for {@linkcode createMemfd}. */
export interface MemfdOptions {
  /**
   * Size in bytes, checked against the machine's memory and reserved at
   * once (`ENOMEM`/`ENOSPC` now rather than the OOM killer or SIGBUS
   * later).
   */
  size: number;
  /**
   * Seals to add once the memory is sized and mapped.
   * @default {{}}
   */
  seal?: MemfdSeals | undefined;
  /**
   * Close the descriptor in programs this process executes
   * (`MFD_CLOEXEC`). Passing it to a child through `node:child_process`
   * `stdio` works either way (the child gets a copy with the flag clear);
   * see {@linkcode Memfd.inheritable} for plain inheritance.
   * @default {true}
   */
  closeOnExec?: boolean | undefined;
}

/** Options for {@linkcode Memfd.fromDescriptor}. */
export interface MemfdAdoptOptions {
  /**
   * What the mapping may do. By default it is `"read-write"` when the
   * descriptor allows writing and `"read"` when it is read-only or
   * write-sealed; asking for `"read-write"` then fails (`EACCES`, `EPERM`).
   * A `"read"` mapping has no `buffer` (see {@linkcode MappedMemory.buffer}).
   * @default {what the descriptor allows}
   */
  access?: "read" | "read-write" | undefined;
  /**
   * The old spelling of `access: "read"`.
   * @deprecated Use `access`; `readOnly` goes away in the next release.
   * @default {false}
   */
  readOnly?: boolean | undefined;
  /**
   * A name for messages.
   * @default {"fd <n>"}
   */
  name?: string | undefined;
}

const SEAL_NAMES = ["shrink", "grow", "write", "seal"] as const;

/** Checks a seals object before any syscall; returns the fcntl bits. */
function sealBits(seals: unknown, name: string): number {
  if (seals === null || typeof seals !== "object" || Array.isArray(seals)) {
    throw new TypeError(
      `${name} must be an object such as { shrink: true }, got ${
        describeValue(seals)
      }`,
    );
  }
  const given = seals as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(SEAL_NAMES as readonly string[]).includes(key)) {
      throw new TypeError(
        `${name} has an unknown seal "${key}": the seals are ${
          SEAL_NAMES.join(", ")
        }`,
      );
    }
  }
  const on = (key: typeof SEAL_NAMES[number]) =>
    checkBoolean(given[key], `${name}.${key}`, false);
  return (on("shrink") ? F_SEAL_SHRINK : 0) | (on("grow") ? F_SEAL_GROW : 0) |
    (on("write") ? F_SEAL_FUTURE_WRITE : 0) | (on("seal") ? F_SEAL_SEAL : 0);
}

function memfdName(name: string): Uint8Array {
  if (typeof name !== "string") {
    throw new TypeError(`name must be a string, got ${describeValue(name)}`);
  }
  const bytes = cString(name);
  if (encoder.encode(name).length > NAME_MAX) {
    throw new RangeError(
      `Invalid memfd name "${name.slice(0, 20)}...": at most ${NAME_MAX} bytes`,
    );
  }
  return bytes;
}

/**
 * Creates anonymous shared memory with a descriptor (memfd_create(2), with
 * `MFD_ALLOW_SEALING`), sized, mapped and optionally sealed. It has no name
 * in any file system: it reaches another process only as a descriptor,
 * inherited by a child or sent over a Unix socket (`SCM_RIGHTS`), and it is
 * freed when the last descriptor and mapping go. Nothing to unlink, nothing
 * to leak.
 *
 * @example Sealed memory for a child process
 * ```ts
 * import { createMemfd } from "@ipckit/ipc/shm";
 *
 * using mem = createMemfd("frame", { size: 4096, seal: { shrink: true, grow: true } });
 * new Uint8Array(mem.buffer).fill(1);
 * // spawn(cmd, args, { stdio: ["inherit", "inherit", "inherit", mem.fd] })
 * // gives the child the memory as its fd 3.
 * console.log(mem.seals.shrink); // true
 * ```
 *
 * @param name A label (shown in /proc/PID/fd), at most 249 bytes; need not
 *   be unique.
 * @param options Size, seals and close-on-exec.
 * @returns The memory.
 * @throws {TypeError} For a name that is not a string or contains NUL,
 *   options or seals that are not objects, an unknown seal, or an option
 *   of the wrong type (every option is checked before the first syscall).
 * @throws {RangeError} For a name too long, or a size that is not a
 *   positive integer or is more than the machine's memory (RAM + swap, or
 *   the memory cgroup's limit).
 * @throws {IpcError} `ENOMEM` (more than the memory available now:
 *   checked before anything is reserved), `ENOSPC`, `EMFILE`, `EINVAL` (a
 *   seal the kernel lacks). Whatever was acquired is released again.
 */
export function createMemfd(name: string, options: MemfdOptions): Memfd {
  return Memfd.create(name, options);
}

/**
 * Shared memory behind a descriptor and no name, made by
 * {@linkcode createMemfd} or adopted with {@linkcode Memfd.fromDescriptor}.
 *
 * @example The receiving side: a child that got the memfd as its fd 3
 * ```ts ignore
 * import { Memfd } from "@ipckit/ipc/shm";
 *
 * using mem = Memfd.fromDescriptor(3);
 * console.log(mem.read(0, 4));
 * ```
 */
export class Memfd extends MappedMemory {
  /** The label it was created with (or given when adopted). */
  readonly name: string;
  #fd: number;
  #failure: IpcErrorOptions;

  private constructor(name: string, fd: number, region: Region) {
    super(region, WHAT, name, "mmap");
    this.name = name;
    this.#fd = fd;
    this.#failure = { syscall: "fcntl", path: name, action: `use ${WHAT}` };
  }

  /**
   * Same as {@linkcode createMemfd}.
   *
   * @example
   * ```ts
   * import { Memfd } from "@ipckit/ipc/shm";
   *
   * using mem = Memfd.create("scratch", { size: 64 });
   * console.log(mem.size); // 64
   * ```
   *
   * @param name A label, at most 249 bytes.
   * @param options Size, seals and close-on-exec.
   * @returns The memory.
   * @throws {TypeError} As {@linkcode createMemfd}.
   * @throws {RangeError} As {@linkcode createMemfd}.
   * @throws {IpcError} As {@linkcode createMemfd}.
   */
  static create(name: string, options: MemfdOptions): Memfd {
    // Every option is checked before the first syscall.
    const cname = memfdName(name);
    const o = checkOptions(options);
    const size = checkSize(o.size);
    const bits = o.seal === undefined ? 0 : sealBits(o.seal, "seal");
    const closeOnExec = checkBoolean(o.closeOnExec, "closeOnExec", true);
    const failure: IpcErrorOptions = {
      syscall: "memfd_create",
      path: name,
      action: `create ${WHAT}`,
    };
    const fd = sys(
      () =>
        libc().memfd_create(
          cname,
          MFD_ALLOW_SEALING | (closeOnExec ? MFD_CLOEXEC : 0),
        ),
      failure,
    );
    let region: Region | undefined;
    try {
      reserve(fd, 0, size, failure, "memfd memory", true);
      sys(() => libc().ftruncate(fd, size), {
        ...failure,
        syscall: "ftruncate",
      });
      region = new Region(
        mapDescriptor(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED, failure),
        size,
        true,
        "munmap",
      );
      if (bits !== 0) {
        sys(() => libc().fcntl(fd, F_ADD_SEALS, bits), {
          ...failure,
          syscall: "fcntl",
          action: `seal ${WHAT}`,
        });
      }
      return new Memfd(name, fd, region);
    } catch (error) {
      region?.release();
      libc().close(fd);
      throw error;
    }
  }

  /**
   * Adopts a memfd descriptor this process received (inherited as fd 3, or
   * from a socket) and maps all of it; the handle owns the descriptor from
   * now on and closes it. Mapped read-only when the descriptor is
   * read-only or write-sealed (or with `access: "read"`).
   *
   * @example
   * ```ts
   * import { createMemfd, Memfd } from "@ipckit/ipc/shm";
   *
   * using mem = createMemfd("demo", { size: 16 });
   * using same = Memfd.fromDescriptor(mem.dup());
   * console.log(same.size); // 16
   * ```
   *
   * @param fd The descriptor.
   * @param options Access and a name for messages.
   * @returns The memory.
   * @throws {TypeError} For a descriptor that is not a number, options that
   *   are not an object, an option of the wrong type or an unknown
   *   `access`.
   * @throws {RangeError} For a descriptor that is not a non-negative
   *   integer.
   * @throws {IpcError} `EBADF`, `EINVAL` (empty), `ENODEV` (not a regular
   *   file, or not mappable), `EACCES`/`EPERM` (`access: "read-write"` on a
   *   read-only or write-sealed descriptor). On failure the descriptor
   *   stays the caller's.
   */
  static fromDescriptor(fd: number, options?: MemfdAdoptOptions): Memfd {
    if (options === undefined) options = {};
    checkInteger(fd, "fd", 0, 0x7fffffff);
    const o = checkOptions(options);
    const readOnly = o.readOnly === undefined
      ? undefined
      : checkBoolean(o.readOnly, "readOnly", false);
    const asked = o.access === undefined && readOnly === undefined
      ? undefined
      : checkAccess(o.access, "read-write", {
        name: "readOnly",
        writable: readOnly === undefined ? undefined : !readOnly,
      });
    if (o.name !== undefined && typeof o.name !== "string") {
      throw new TypeError(
        `name must be a string, got ${describeValue(o.name)}`,
      );
    }
    const name = o.name ?? `fd ${fd}`;
    const failure: IpcErrorOptions = {
      syscall: "fcntl",
      path: name,
      action: `map ${WHAT}`,
    };
    const flags = sys(() => libc().fcntl(fd, F_GETFL, 0), failure);
    const status = statDescriptor(fd, failure);
    if (status.type === S_IFBLK) {
      // A device is no memfd; mappableSize() refuses the other kinds.
      throw new IpcError("ENODEV", {
        ...failure,
        syscall: "fstat",
        hint: "It is a block device, not memory: map it with mapFile()",
      });
    }
    const size = mappableSize(status, failure);
    const seals = libc().fcntl(fd, F_GET_SEALS, 0);
    const writeSealed = seals !== -1 &&
      (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0;
    const readOnlyDescriptor = (flags & O_ACCMODE) !== O_RDWR;
    if (asked === "read-write" && (writeSealed || readOnlyDescriptor)) {
      throw new IpcError(readOnlyDescriptor ? "EACCES" : "EPERM", {
        ...failure,
        syscall: "mmap",
        hint: readOnlyDescriptor
          ? "The descriptor is open read-only"
          : "The memfd is sealed against writing",
      });
    }
    const writable = asked !== "read" && !writeSealed && !readOnlyDescriptor;
    const region = mapRegion(
      fd,
      size,
      writable,
      MAP_SHARED,
      failure,
      { ...failure, hint: "It is empty (0 bytes): nothing to map" },
    );
    return new Memfd(name, fd, region);
  }

  /**
   * The descriptor, to hand to another process (`stdio` of
   * `node:child_process` spawn, or `SCM_RIGHTS`). Escape hatch: do not
   * close it yourself.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    this.mapping("fd");
    return this.#fd;
  }

  /**
   * The seals in force (fcntl(2) `F_GET_SEALS`).
   *
   * @example
   * ```ts
   * import { createMemfd } from "@ipckit/ipc/shm";
   *
   * using mem = createMemfd("demo", { size: 8, seal: { grow: true } });
   * console.log(mem.seals); // { shrink: false, grow: true, write: false, seal: false }
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get seals(): Required<MemfdSeals> {
    this.mapping("fcntl");
    const bits = sys(
      () => libc().fcntl(this.#fd, F_GET_SEALS, 0),
      this.#failure,
    );
    return {
      shrink: (bits & F_SEAL_SHRINK) !== 0,
      grow: (bits & F_SEAL_GROW) !== 0,
      write: (bits & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0,
      seal: (bits & F_SEAL_SEAL) !== 0,
    };
  }

  /**
   * Adds seals (fcntl(2) `F_ADD_SEALS`); seals are never removed.
   *
   * @example
   * ```ts
   * import { createMemfd } from "@ipckit/ipc/shm";
   *
   * using mem = createMemfd("demo", { size: 8 });
   * mem.addSeals({ shrink: true, seal: true });
   * console.log(mem.seals.seal); // true
   * ```
   *
   * @param seals The seals to add.
   * @throws {TypeError} For seals that are not an object (`null`
   *   included), an unknown seal, or a seal that is not a boolean.
   * @throws {IpcError} `EPERM` (sealed against more seals), `EBADF` when
   *   closed, `EINVAL` (a seal the kernel lacks).
   */
  addSeals(seals: MemfdSeals): void {
    this.mapping("fcntl");
    const bits = sealBits(seals, "seals");
    sys(() => libc().fcntl(this.#fd, F_ADD_SEALS, bits), {
      ...this.#failure,
      action: `seal ${WHAT}`,
    });
  }

  /**
   * Whether programs this process executes inherit the descriptor (its
   * `FD_CLOEXEC` flag is clear). Set it before spawning a child that
   * should find the memfd under the same number without a `stdio` slot.
   *
   * @example
   * ```ts
   * import { createMemfd } from "@ipckit/ipc/shm";
   *
   * using mem = createMemfd("demo", { size: 8 });
   * mem.inheritable = true;
   * console.log(mem.inheritable); // true
   * ```
   *
   * @throws {IpcError} `EBADF` when closed.
   * @throws {TypeError} When set to anything but a boolean.
   */
  get inheritable(): boolean {
    this.mapping("fcntl");
    const flags = sys(() => libc().fcntl(this.#fd, F_GETFD, 0), this.#failure);
    return (flags & FD_CLOEXEC) === 0;
  }

  set inheritable(value: boolean) {
    this.mapping("fcntl");
    if (typeof value !== "boolean") {
      throw new TypeError(
        `inheritable must be a boolean, got ${describeValue(value)}`,
      );
    }
    const flags = sys(() => libc().fcntl(this.#fd, F_GETFD, 0), this.#failure);
    const next = value ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC;
    sys(() => libc().fcntl(this.#fd, F_SETFD, next), this.#failure);
  }

  /**
   * A second descriptor for the same memory (fcntl(2) `F_DUPFD_CLOEXEC`),
   * owned by the caller: to adopt elsewhere, or to send and close.
   *
   * @example
   * ```ts
   * import { createMemfd, Memfd } from "@ipckit/ipc/shm";
   *
   * using mem = createMemfd("demo", { size: 8 });
   * Memfd.fromDescriptor(mem.dup()).close();
   * ```
   *
   * @returns The new descriptor.
   * @throws {IpcError} `EBADF` when closed, `EMFILE`.
   */
  dup(): number {
    this.mapping("fcntl");
    return sys(() => libc().fcntl(this.#fd, 1030, 0), this.#failure);
  }

  /**
   * Unmaps the memory and closes the descriptor; the `buffer` and its views
   * are detached. The memory is freed once no process holds a descriptor
   * or mapping. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { createMemfd } from "@ipckit/ipc/shm";
   *
   * const mem = createMemfd("demo", { size: 8 });
   * mem.close();
   * mem.close(); // no-op
   * ```
   */
  override close(): void {
    if (!this.releaseMapping()) return;
    libc().close(this.#fd);
    this.#fd = -1;
  }
}
