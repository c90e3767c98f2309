import {
  checkBoolean,
  checkMode,
  checkOptions,
  IpcError,
  type IpcErrorOptions,
  libc,
  removeAtExit,
  statDescriptor,
  sys,
  validatePosixName,
} from "../ffi/mod.ts";
import {
  checkAccess,
  checkSize,
  MAP_SHARED,
  mapDescriptor,
  mapRegion,
  openOrCreate,
  PROT_READ,
  PROT_WRITE,
  Region,
  reserve,
} from "./_region.ts";
import { MappedMemory } from "./mapped_memory.ts";

const O_RDONLY = 0;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_CLOEXEC = 0o2000000;
const WHAT = "shared memory";

/** Options for {@linkcode SharedMemory.open}. */
export interface SharedMemoryOptions {
  /**
   * Create the object if it does not exist (`O_CREAT`); `size` is then
   * required.
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * With `create`, fail with `EEXIST` if the object exists (`O_EXCL`).
   * @default {false}
   */
  exclusive?: boolean | undefined;
  /**
   * Permission bits of a new object (before the umask).
   * @default {0o600}
   */
  mode?: number | undefined;
  /**
   * Size in bytes. Required with `create`: a new object gets this size
   * (reserved at once, see {@linkcode SharedMemory.open}). When the object
   * exists, it must have exactly this size; leave it out to take the size
   * the object has.
   * @default {the existing object's size}
   */
  size?: number | undefined;
  /**
   * What this handle may do. A `"read"` handle maps the memory read-only:
   * `buffer` and `view()` throw (a JavaScript write to read-only memory
   * would kill the process), `read()` and `readInto()` copy bytes out.
   * @default {"read-write"}
   */
  access?: "read" | "read-write" | undefined;
}

/** Options for {@linkcode SharedMemory.temporary}. */
export interface TemporarySharedMemoryOptions {
  /** Size in bytes. */
  size: number;
  /**
   * Permission bits (before the umask).
   * @default {0o600}
   */
  mode?: number | undefined;
}

function openFailureHint(
  code: string,
  create: boolean,
): string | undefined {
  if (code === "ENOENT" && !create) {
    return "No such shared memory object; pass { create: true, size } to create it";
  }
  if (code === "EEXIST") {
    return "It exists and { exclusive: true } was given";
  }
  if (code === "EACCES") {
    return "Its mode does not let this user open it with this access";
  }
  return undefined;
}

/**
 * A POSIX shared memory object (shm_overview(7)): named memory that every
 * process opening the same name maps, seen here as one `ArrayBuffer`
 * (`buffer`) over the mapping, without copies. Writes are visible to every
 * other mapper at once; `Atomics` on an `Int32Array` view work across
 * processes. On Linux the object is a file in `/dev/shm` (a tmpfs), so it is
 * byte-compatible with C (`shm_open`), Python
 * (`multiprocessing.shared_memory`, whose names lack the leading `/`) and
 * anything else that maps it.
 *
 * The memory carries no synchronisation of its own: pair it with atomics, a
 * futex, a semaphore or a lock ({@linkcode FileLock}).
 *
 * Closing is not removing: the object and its contents live until
 * {@linkcode SharedMemory.unlink} (or reboot), even with no process mapping
 * them.
 *
 * @example Writing into shared memory another process can open
 * ```ts
 * import { SharedMemory } from "@ipckit/ipc/shm";
 *
 * using shm = SharedMemory.temporary({ size: 4096 });
 * const counter = shm.view(Int32Array, 0, 1);
 * Atomics.add(counter, 0, 1);
 * new Uint8Array(shm.buffer, 4, 5).set(new TextEncoder().encode("hello"));
 * console.log(shm.name, shm.size); // "/ipckit_..." 4096
 * ```
 */
export class SharedMemory extends MappedMemory {
  /** The object's name, such as `"/frame"`. */
  readonly name: string;
  #fd: number;
  #unlinkOnClose: boolean;
  #failure: IpcErrorOptions;
  /** Forgets the removal at exit of a temporary object. */
  #forgetAtExit: (() => void) | undefined;

  private constructor(
    name: string,
    fd: number,
    region: Region,
    unlinkOnClose: boolean,
  ) {
    super(region, WHAT, name, "mmap");
    this.name = name;
    this.#fd = fd;
    this.#unlinkOnClose = unlinkOnClose;
    this.#failure = { syscall: "mmap", path: name, action: `map ${WHAT}` };
    if (unlinkOnClose) {
      const cname = validatePosixName(name, WHAT);
      this.#forgetAtExit = removeAtExit(() => libc().shm_unlink(cname));
    }
  }

  /**
   * Opens (and with `create`, creates) a shared memory object and maps all
   * of it (shm_open(3), ftruncate(2), mmap(2) with `MAP_SHARED`).
   *
   * Creating reserves the memory before mapping it: the size is checked
   * against the machine's memory (/proc/meminfo, the memory cgroup) and the
   * free space of `/dev/shm` (fstatvfs(3)), then the pages are allocated
   * (posix_fallocate(3)), so a size too large fails here with a
   * `RangeError`, `ENOSPC` or `ENOMEM` instead of waking the OOM killer or
   * killing the process with SIGBUS on first touch. If a later step fails,
   * an object this call created is removed again.
   *
   * @example Creating a 1 MiB segment
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.open("/ipckit_doc_frame", { create: true, size: 1 << 20 });
   * new Uint8Array(shm.buffer).fill(7);
   * SharedMemory.unlink("/ipckit_doc_frame");
   * ```
   *
   * @param name One leading `/`, no other `/`, 1 to 255 bytes after it.
   * @param options Creation flags, size and access.
   * @returns The mapped object.
   * @throws {TypeError} For a malformed name, options that are not an
   *   object, an option of the wrong type, an unknown `access`, or `create`
   *   without `size`.
   * @throws {RangeError} For a size that is not a positive integer or is
   *   more than the machine's memory (RAM + swap, or the memory cgroup's
   *   limit), or a bad mode.
   * @throws {IpcError} `ENOENT` (missing, no `create`), `EEXIST`
   *   (`exclusive`), `EACCES`, `ENOSPC` (`/dev/shm` too small), `ENOMEM`
   *   (more than the memory available now: checked before anything is
   *   reserved), `EINVAL` (it exists with another size, or is still empty),
   *   `EMFILE`.
   */
  static open(name: string, options?: SharedMemoryOptions): SharedMemory {
    if (options === undefined) options = {};
    return SharedMemory.#open(name, options, false);
  }

  /**
   * Creates an object with a random unused name (`/ipckit_<random>`) that
   * is unlinked when the handle closes. Other processes can still open it
   * by {@linkcode SharedMemory.name} while it exists. It is unlinked
   * when the process ends without closing it too: at its normal end, on
   * `process.exit()`, an uncaught error, or SIGINT/SIGTERM/SIGHUP that the
   * program does not handle itself (see ffi's `removeAtExit()`). SIGKILL
   * leaves it behind: `ipckit ls` lists such objects, `ipckit rm` removes
   * them.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 64 });
   * console.log(shm.name.startsWith("/ipckit_")); // true
   * ```
   *
   * @param options The size and mode.
   * @returns The mapped object.
   * @throws {TypeError} For options that are not an object, or a size or
   *   mode that is not a number.
   * @throws {RangeError} For a bad size or mode.
   * @throws {IpcError} As {@linkcode SharedMemory.open}.
   */
  static temporary(options: TemporarySharedMemoryOptions): SharedMemory {
    const name = `/ipckit_${crypto.randomUUID().replaceAll("-", "")}`;
    // #open() checks the size and mode.
    const o = checkOptions(options);
    return SharedMemory.#open(
      name,
      {
        size: o.size,
        mode: o.mode,
        create: true,
        exclusive: true,
      },
      true,
    );
  }

  static #open(
    name: string,
    options: SharedMemoryOptions,
    unlinkOnClose: boolean,
  ): SharedMemory {
    const cname = validatePosixName(name, WHAT);
    const o = checkOptions(options);
    const create = checkBoolean(o.create, "create", false);
    const exclusive = checkBoolean(o.exclusive, "exclusive", false);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode);
    const size = o.size === undefined ? undefined : checkSize(o.size);
    const access = checkAccess(o.access, "read-write");
    if (create && size === undefined) {
      throw new TypeError(
        `Cannot create ${WHAT} "${name}" without a size: pass { size }`,
      );
    }
    const writable = access === "read-write";
    if (create && !writable) {
      throw new TypeError(
        `Cannot create ${WHAT} "${name}" with access "read": sizing it needs "read-write"`,
      );
    }
    const failure: IpcErrorOptions = {
      syscall: "shm_open",
      path: name,
      action: `open ${WHAT}`,
    };
    const base = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
    const { handle: fd, created } = openOrCreate({
      create,
      exclusive,
      tryCreate: () => libc().shm_open(cname, base | O_CREAT | O_EXCL, mode),
      tryOpen: () => libc().shm_open(cname, base, 0),
      failure,
      hint: (code) => openFailureHint(code, create),
    });
    try {
      let actual = statDescriptor(fd, failure).size;
      if (created) {
        reserve(fd, 0, size!, failure, "/dev/shm", true);
        sys(() => libc().ftruncate(fd, size!), {
          ...failure,
          syscall: "ftruncate",
        });
        actual = size!;
      } else if (size !== undefined && actual !== size) {
        throw new IpcError("EINVAL", {
          ...failure,
          syscall: "fstat",
          hint: actual === 0
            ? `It exists but is empty (0 bytes), not ${size}: its creator has not sized it yet`
            : `It exists with ${actual} bytes, not ${size}: open it without size, or resize() it`,
        });
      }
      const region = mapRegion(
        fd,
        actual,
        writable,
        MAP_SHARED,
        { ...failure, action: `map ${WHAT}` },
        {
          ...failure,
          hint: "It is empty (0 bytes): its creator has not sized it yet",
        },
      );
      return new SharedMemory(name, fd, region, unlinkOnClose);
    } catch (error) {
      libc().close(fd);
      if (created) libc().shm_unlink(cname);
      throw error;
    }
  }

  /**
   * Removes an object's name (shm_unlink(3)). Processes that have it mapped
   * keep the memory until they close it; the memory is freed after the last
   * one does.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * SharedMemory.open("/ipckit_doc_gone", { create: true, size: 16 }).close();
   * SharedMemory.unlink("/ipckit_doc_gone");
   * ```
   *
   * @param name The object's name.
   * @throws {TypeError} For a malformed name.
   * @throws {IpcError} `ENOENT` when no such object exists, `EACCES`.
   */
  static unlink(name: string): void {
    const cname = validatePosixName(name, WHAT);
    sys(() => libc().shm_unlink(cname), {
      syscall: "shm_unlink",
      path: name,
      action: `unlink ${WHAT}`,
    });
  }

  /**
   * The raw descriptor from shm_open(3) (close-on-exec). Escape hatch: do
   * not close it yourself. Usable with {@linkcode FileLock.fromDescriptor}.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    this.mapping("fd");
    return this.#fd;
  }

  /**
   * Changes the object's size (ftruncate(2); growing reserves the new pages
   * first, so a full `/dev/shm` is `ENOSPC`) and maps it again. The old
   * `buffer` and its views are detached; the contents up to the smaller
   * size are kept.
   *
   * **Other processes keep their old mapping size** until they call
   * {@linkcode SharedMemory.remap} (or reopen): after growing, they simply
   * do not see the new bytes; after shrinking, a process touching memory
   * past the new end is killed by SIGBUS. Shrink only when every mapper
   * has agreed to stop using the tail.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using shm = SharedMemory.temporary({ size: 4096 });
   * shm.resize(8192);
   * console.log(shm.size); // 8192
   * ```
   *
   * @param size The new size in bytes.
   * @throws {TypeError} For a size that is not a number.
   * @throws {RangeError} For a size that is not a positive integer, or
   *   more than the machine's memory.
   * @throws {IpcError} `EBADF` when closed or opened with
   *   `access: "read"`, `ENOSPC`, `ENOMEM`.
   */
  resize(size: number): void {
    const old = this.mapping("ftruncate");
    checkSize(size);
    if (size === old.size) return;
    if (!old.writable) {
      throw new IpcError("EBADF", {
        ...this.#failure,
        syscall: "ftruncate",
        action: `resize ${WHAT}`,
        hint: 'It was opened with access: "read"',
      });
    }
    const failure = { ...this.#failure, action: `resize ${WHAT}` };
    if (size > old.size) {
      reserve(this.#fd, old.size, size, failure, "/dev/shm", true);
    }
    sys(() => libc().ftruncate(this.#fd, size), {
      ...failure,
      syscall: "ftruncate",
    });
    this.#replace(size);
  }

  /**
   * Maps the object again at its current size, after another process
   * resized it. Returns the new size. The old `buffer` and its views are
   * detached when the size changed.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@ipckit/ipc/shm";
   *
   * using a = SharedMemory.temporary({ size: 4096 });
   * using b = SharedMemory.open(a.name);
   * a.resize(8192);
   * console.log(b.size, b.remap()); // 4096 8192
   * ```
   *
   * @returns The size now mapped.
   * @throws {IpcError} `EBADF` when closed, `EINVAL` when it is now empty.
   */
  remap(): number {
    const old = this.mapping("fstat");
    const size = statDescriptor(this.#fd, this.#failure).size;
    if (size === 0) {
      throw new IpcError("EINVAL", {
        ...this.#failure,
        syscall: "fstat",
        hint: "It has been truncated to 0 bytes",
      });
    }
    if (size !== old.size) this.#replace(size);
    return size;
  }

  #replace(size: number): void {
    const old = this.mapping("mmap");
    const pointer = mapDescriptor(
      this.#fd,
      size,
      old.writable ? PROT_READ | PROT_WRITE : PROT_READ,
      MAP_SHARED,
      this.#failure,
    );
    this.replaceMapping(new Region(pointer, size, old.writable, "munmap"));
  }

  /**
   * Unmaps the memory and closes the descriptor (munmap(2), close(2)); the
   * `buffer` and its views are detached. The object remains until
   * unlinked, except for a temporary one, which is unlinked now. Closing
   * twice does nothing.
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
  override close(): void {
    if (!this.releaseMapping()) return;
    libc().close(this.#fd);
    this.#fd = -1;
    if (this.#unlinkOnClose) {
      this.#forgetAtExit?.();
      libc().shm_unlink(validatePosixName(this.name, WHAT));
    }
  }
}
