import {
  checkBoolean,
  checkMode,
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
 * import { mapFile } from "@ipckit/ipc/shm";
 *
 * const path = await Deno.makeTempFile();
 * using map = mapFile(path, { size: 4096, access: "read-write" });
 * map.view(Float64Array, 8, 1)[0] = Math.PI;
 * map.flush();
 * await Deno.remove(path);
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
 * A memory-mapped file, made by {@linkcode mapFile}. Closing unmaps it and
 * closes its descriptor; the file stays.
 *
 * @example Reading a mapped file without copying
 * ```ts
 * import { mapFile } from "@ipckit/ipc/shm";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello");
 * using map = mapFile(path, { access: "read-write", shared: false });
 * console.log(new TextDecoder().decode(new Uint8Array(map.buffer))); // hello
 * await Deno.remove(path);
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

  private constructor(
    path: string,
    fd: number,
    region: Region,
    shared: boolean,
  ) {
    super(region, WHAT, path, "mmap");
    this.path = path;
    this.#fd = fd;
    this.writable = region.writable;
    this.shared = shared;
  }

  /**
   * Same as {@linkcode mapFile}.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using map = MappedFile.open(path, { size: 16, create: true, access: "read-write" });
   * console.log(map.size); // 16
   * await Deno.remove(path);
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
    const file = toPath(path);
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
      (create ? O_CREAT : 0);
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
      return new MappedFile(file, fd, region, shared);
    } catch (error) {
      libc().close(fd);
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
   * import { mapFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using map = mapFile(path, { size: 8, access: "read-write" });
   * new Uint8Array(map.buffer).fill(1);
   * map.flush();
   * await Deno.remove(path);
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
   * Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { mapFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * const map = mapFile(path, { size: 8, access: "read-write" });
   * map.close();
   * map.close(); // no-op
   * await Deno.remove(path);
   * ```
   */
  override close(): void {
    if (!this.releaseMapping()) return;
    libc().close(this.#fd);
    this.#fd = -1;
  }
}
