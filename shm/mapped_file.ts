import {
  checkBoolean,
  checkMode,
  checkOptions,
  cString,
  describeValue,
  IpcError,
  type IpcErrorOptions,
  libc,
  readEnvironment,
  removeAtExit,
  statDescriptor,
  sys,
} from "../ffi/mod.ts";
import {
  checkAccess,
  checkSize,
  inMemoryFileSystem,
  MAP_PRIVATE,
  MAP_SHARED,
  mappableSize,
  mapRegion,
  type Region,
  reserve,
  S_IFREG,
} from "./_region.ts";
import { MappedMemory } from "./mapped_memory.ts";

const O_RDONLY = 0;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const MS_SYNC = 4;
const WHAT = "mapped file";

/** Options for {@linkcode mapFile}. */
export interface MapFileOptions {
  /**
   * Bytes to map. A file shorter than this is grown first (with the space
   * reserved, so a full disk is `ENOSPC` now rather than SIGBUS later);
   * growing needs `access: "read-write"` (shared) or `create`. A longer
   * file is mapped only up to `size` and left as it is. A block device
   * cannot grow.
   * @default {the file's size}
   */
  size?: number | undefined;
  /**
   * What the mapping may do. `"read-write"` maps it writable: with
   * `shared`, writes go to the file and to every process that maps it;
   * without, to a private copy. A `"read"` mapping has no `buffer`:
   * JavaScript cannot make a read-only `ArrayBuffer`, and a write into
   * `PROT_READ` memory would kill the process with SIGSEGV, so `buffer`,
   * `view()` and `write()` throw a `TypeError` and `read()`/`readInto()`
   * copy bytes out. For zero-copy reading of a file you may not write, use
   * `{ access: "read-write", shared: false }`: the file is opened
   * read-only and your writes stay in your private copy.
   * @default {"read"}
   */
  access?: "read" | "read-write" | undefined;
  /**
   * The old spelling of `access`: `true` is `"read-write"`, `false` is
   * `"read"`.
   * @deprecated Use `access`; `writable` goes away in the next release.
   * @default {false}
   */
  writable?: boolean | undefined;
  /**
   * `MAP_SHARED` (writes reach the file and other mappers) or, when
   * `false`, `MAP_PRIVATE` (copy-on-write: writes are this process's own;
   * the file is opened read-only).
   * @default {true}
   */
  shared?: boolean | undefined;
  /**
   * Create the file if it does not exist (`O_CREAT`); needs `size`.
   * @default {false}
   */
  create?: boolean | undefined;
  /**
   * Permission bits of a new file (before the umask).
   * @default {0o600}
   */
  mode?: number | undefined;
}

/** Options for {@linkcode MappedFile.temporary}. */
export interface TemporaryMappedFileOptions {
  /** Bytes to map (the file is created with this size). */
  size: number;
  /**
   * The folder to create the file in: a file system on disk keeps the
   * pages out of memory (unlike `/dev/shm`), a tmpfs keeps them in it.
   * @default {`$TMPDIR`, or `/tmp`}
   */
  dir?: string | undefined;
  /**
   * The start of the file's name; a random part follows.
   * @default {"ipckit_"}
   */
  prefix?: string | undefined;
  /**
   * Permission bits of the file (before the umask).
   * @default {0o600}
   */
  mode?: number | undefined;
}

function checkText(value: unknown, name: string): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `${name} must be a string, got ${describeValue(value)}`,
    );
  }
  return value;
}

function toPath(path: string | URL): string {
  if (path instanceof URL) {
    if (path.protocol !== "file:") {
      throw new TypeError(`Only file: URLs can be mapped, got ${path.href}`);
    }
    return decodeURIComponent(path.pathname);
  }
  if (typeof path !== "string" || path === "") {
    throw new TypeError(
      `path must be a non-empty string or a file: URL, got ${
        describeValue(path)
      }`,
    );
  }
  if (path.includes("\0")) {
    throw new TypeError(`path must not contain NUL bytes`);
  }
  return path;
}

/**
 * Maps a file into memory (mmap(2)): its bytes as an `ArrayBuffer`, read
 * and written in place, shared with every process mapping the same file.
 * Growing the file on the way (with `create` or `access: "read-write"`)
 * reserves the space with posix_fallocate(3). Only regular files and block
 * devices are mapped: a FIFO, a directory, a socket or a character device
 * is refused with `ENODEV` (opened with `O_NONBLOCK`, so a FIFO never
 * blocks the thread). Needs `--allow-ffi` in Deno (the file is
 * opened by libc, so `--allow-read`/`--allow-write` do not govern it).
 *
 * @example A file as a shared record store
 * ```ts
 * import { mapFile, MappedFile } from "@ipckit/ipc/shm";
 *
 * // A scratch file, removed on close (or use any file of your own).
 * using records = MappedFile.temporary({ size: 4096 });
 * // Another process maps the same file by its path:
 * using map = mapFile(records.path, { access: "read-write" });
 * map.view(Float64Array, 8, 1)[0] = Math.PI;
 * map.flush(); // to the disk, too
 * console.log(records.view(Float64Array, 8, 1)[0]); // 3.141592653589793
 * ```
 *
 * @param path The file.
 * @param options Size, access and creation.
 * @returns The mapping.
 * @throws {TypeError} For a bad path, options that are not an object, an
 *   option of the wrong type, an unknown `access`, or `create` without
 *   `size`.
 * @throws {RangeError} For a bad size or mode.
 * @throws {IpcError} `ENOENT`, `EACCES`, `ENOSPC`, `ENOMEM` (growing a file
 *   in memory, such as on a tmpfs, beyond the memory available), `EINVAL`
 *   (the file is empty, or shorter than `size` and may not grow),
 *   `ENODEV` (not a regular file or block device, or a file system that
 *   cannot be mapped).
 */
export function mapFile(
  path: string | URL,
  options?: MapFileOptions,
): MappedFile {
  if (options === undefined) options = {};
  return MappedFile.open(path, options);
}

/**
 * A memory-mapped file, made by {@linkcode mapFile} (or
 * {@linkcode MappedFile.temporary}). Closing unmaps it and closes its
 * descriptor; the file stays, unless it is temporary.
 *
 * @example Reading a mapped file without copying
 * ```ts
 * import { mapFile, MappedFile } from "@ipckit/ipc/shm";
 *
 * using file = MappedFile.temporary({ size: 5 });
 * file.write("hello", 0);
 * // A private mapping: reads without copying, writes stay in this process.
 * using map = mapFile(file.path, { access: "read-write", shared: false });
 * new Uint8Array(map.buffer)[0] = 0x6a; // "j"
 * console.log(new TextDecoder().decode(new Uint8Array(map.buffer))); // jello
 * console.log(new TextDecoder().decode(new Uint8Array(file.buffer))); // hello
 * ```
 */
export class MappedFile extends MappedMemory {
  /** The file's path. */
  readonly path: string;
  /** Whether the mapping is writable. */
  readonly writable: boolean;
  /** Whether writes reach the file (`MAP_SHARED`) or stay private. */
  readonly shared: boolean;
  #fd: number;
  /** For a temporary file: forgets its removal at exit. */
  #forgetAtExit: (() => void) | undefined;

  private constructor(
    path: string,
    fd: number,
    region: Region,
    shared: boolean,
    temporary: boolean,
  ) {
    super(region, WHAT, path, "mmap");
    this.path = path;
    this.#fd = fd;
    this.writable = region.writable;
    this.shared = shared;
    if (temporary) {
      const cpath = cString(path);
      this.#forgetAtExit = removeAtExit(() => libc().unlink(cpath));
    }
  }

  /**
   * Same as {@linkcode mapFile}.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@ipckit/ipc/shm";
   *
   * using data = MappedFile.temporary({ size: 16 });
   * using map = MappedFile.open(data.path, { access: "read-write" });
   * console.log(map.size); // 16
   * ```
   *
   * @param path The file.
   * @param options Size, access and creation.
   * @returns The mapping.
   * @throws {TypeError} As {@linkcode mapFile}.
   * @throws {RangeError} For a bad size or mode.
   * @throws {IpcError} As {@linkcode mapFile}.
   */
  static open(path: string | URL, options?: MapFileOptions): MappedFile {
    if (options === undefined) options = {};
    return MappedFile.#open(toPath(path), options, false);
  }

  /**
   * Creates a file with a random unused name (`<dir>/<prefix><random>`,
   * `O_EXCL`, mode `0o600` by default) of `size` bytes and maps it read-write and
   * shared: a scratch file that other processes map by
   * {@linkcode MappedFile.path} while it exists, as
   * {@linkcode SharedMemory.temporary} is for shared memory, but in the
   * folder you choose (on disk, its pages need not stay in memory). The
   * file is removed when the handle closes, and when the process ends
   * without closing it: at its normal end, on `process.exit()`, an uncaught
   * error, or SIGINT/SIGTERM/SIGHUP that the program does not handle itself
   * (see ffi's `removeAtExit()`). SIGKILL leaves it behind. Needs only
   * `--allow-ffi` in Deno: libc creates and removes it.
   *
   * @example A scratch file another process maps
   * ```ts
   * import { mapFile, MappedFile } from "@ipckit/ipc/shm";
   *
   * using scratch = MappedFile.temporary({ size: 4096 });
   * scratch.write("shared", 0);
   * using other = mapFile(scratch.path); // as another process would
   * console.log(new TextDecoder().decode(other.read(0, 6))); // shared
   * ```
   *
   * @param options The size, the folder, the name's prefix and the mode.
   * @returns The mapping.
   * @throws {TypeError} For options that are not an object, an option of
   *   the wrong type, a `dir` that is empty or has NUL bytes, or a
   *   `prefix` with a `/` or NUL bytes.
   * @throws {RangeError} For a bad size or mode.
   * @throws {IpcError} `ENOENT` (no such folder), `EACCES`, `ENOSPC`,
   *   `ENOMEM`, as {@linkcode mapFile}.
   */
  static temporary(options: TemporaryMappedFileOptions): MappedFile {
    const o = checkOptions(options);
    const dir = o.dir === undefined
      ? readEnvironment("TMPDIR") || "/tmp"
      : checkText(o.dir, "dir");
    if (dir === "" || dir.includes("\0")) {
      throw new TypeError("dir must be a non-empty string without NUL bytes");
    }
    const prefix = o.prefix === undefined
      ? "ipckit_"
      : checkText(o.prefix, "prefix");
    if (prefix.includes("/") || prefix.includes("\0")) {
      throw new TypeError(
        `prefix must not contain "/" or NUL bytes, got ${
          describeValue(prefix)
        }`,
      );
    }
    const random = crypto.randomUUID().replaceAll("-", "");
    const path = `${dir.replace(/(?<=.)\/+$/, "")}/${prefix}${random}`;
    // #open() checks the size and mode.
    return MappedFile.#open(path, {
      size: o.size,
      mode: o.mode,
      create: true,
      access: "read-write",
    }, true);
  }

  static #open(
    file: string,
    options: MapFileOptions,
    temporary: boolean,
  ): MappedFile {
    const o = checkOptions(options);
    const size = o.size === undefined ? undefined : checkSize(o.size);
    const access = checkAccess(o.access, "read", {
      name: "writable",
      writable: o.writable,
    });
    const shared = checkBoolean(o.shared, "shared", true);
    const create = checkBoolean(o.create, "create", false);
    const mode = checkMode(o.mode === undefined ? 0o600 : o.mode);
    if (create && size === undefined) {
      throw new TypeError(`Cannot create "${file}" without a size`);
    }
    const writable = access === "read-write";
    const mayGrow = create || (writable && shared);
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
    // refuses it, and O_NONBLOCK means nothing to files and block devices.
    const flags = (mayGrow ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK |
      (create ? O_CREAT : 0) | (temporary ? O_EXCL : 0);
    const failure: IpcErrorOptions = {
      syscall: "open",
      path: file,
      action: "map file",
    };
    const cpath = cString(file);
    const fd = sys(() => libc().open(cpath, flags, mode), failure);
    try {
      const status = statDescriptor(fd, failure);
      const current = mappableSize(status, failure);
      const length = size ?? current;
      if (length > current) {
        const regular = status.type === S_IFREG;
        if (!mayGrow || !regular) {
          throw new IpcError("EINVAL", {
            ...failure,
            syscall: "fstat",
            hint: regular
              ? `The file has ${current} bytes, fewer than ${length}; ` +
                `pass { access: "read-write" } or { create: true } to grow it`
              : `The block device has ${current} bytes, fewer than ${length}`,
          });
        }
        reserve(
          fd,
          current,
          length,
          failure,
          `the file system of ${file}`,
          inMemoryFileSystem(status.dev),
        );
        sys(() => libc().ftruncate(fd, length), {
          ...failure,
          syscall: "ftruncate",
        });
      }
      const region = mapRegion(
        fd,
        length,
        writable,
        shared ? MAP_SHARED : MAP_PRIVATE,
        failure,
        { ...failure, hint: "The file is empty: pass { size } to grow it" },
      );
      return new MappedFile(file, fd, region, shared, temporary);
    } catch (error) {
      libc().close(fd);
      if (temporary) libc().unlink(cpath);
      throw error;
    }
  }

  /**
   * The file's descriptor (close-on-exec). Escape hatch, for
   * {@linkcode FileLock.fromDescriptor}: do not close it yourself.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    this.mapping("fd");
    return this.#fd;
  }

  /**
   * Writes changed pages back to the file and waits for it (msync(2)
   * `MS_SYNC`). Other processes mapping the file see writes at once
   * anyway; this is about the file on disk. A private mapping has nothing
   * to write back.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@ipckit/ipc/shm";
   *
   * using map = MappedFile.temporary({ size: 8 });
   * new Uint8Array(map.buffer).fill(1);
   * map.flush();
   * ```
   *
   * @throws {IpcError} `EBADF` when closed, `EIO`.
   */
  flush(): void {
    const region = this.mapping("msync");
    sys(() => libc().msync(region.pointer, region.size, MS_SYNC), {
      syscall: "msync",
      path: this.path,
      action: "flush mapped file",
    });
  }

  /**
   * Unmaps the file and closes its descriptor; the `buffer` and its views
   * are detached. Changes of a shared mapping reach the file anyway (the
   * kernel writes them back in its own time; call `flush()` to wait).
   * The file stays, except for a {@linkcode MappedFile.temporary} one,
   * which is removed now (other processes that have it mapped keep their
   * mapping). Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@ipckit/ipc/shm";
   *
   * const map = MappedFile.temporary({ size: 8 });
   * map.close(); // unmapped, and this temporary file removed
   * map.close(); // no-op
   * ```
   */
  override close(): void {
    if (!this.releaseMapping()) return;
    libc().close(this.#fd);
    this.#fd = -1;
    const forget = this.#forgetAtExit;
    if (forget !== undefined) {
      this.#forgetAtExit = undefined;
      forget();
      libc().unlink(cString(this.path));
    }
  }
}
