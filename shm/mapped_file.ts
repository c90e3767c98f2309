import {
  closedError,
  cString,
  IpcError,
  type IpcErrorOptions,
  libc,
  sys,
} from "../ffi/mod.ts";
import {
  checkMode,
  checkSize,
  fileStatus,
  MAP_PRIVATE,
  MAP_SHARED,
  mapDescriptor,
  PROT_READ,
  PROT_WRITE,
  Region,
  reserve,
} from "./_region.ts";
import type { TypedArrayConstructor } from "./shared_memory.ts";

const O_RDONLY = 0;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const MS_SYNC = 4;
const WHAT = "mapped file";

/** Options for {@linkcode mapFile}. */
export interface MapFileOptions {
  /**
   * Bytes to map. A file shorter than this is grown first (with the space
   * reserved, so a full disk is `ENOSPC` now rather than SIGBUS later);
   * growing needs `writable` (shared) or `create`. A longer file is mapped
   * only up to `size` and left as it is.
   * @default {the file's size}
   */
  size?: number;
  /**
   * Map the memory writable. With `shared`, writes go to the file and to
   * every process that maps it; without, to a private copy.
   * A read-only mapping has no `buffer`: JavaScript cannot make a read-only
   * `ArrayBuffer`, and a write into `PROT_READ` memory would kill the
   * process with SIGSEGV, so `buffer` and `view()` throw a `TypeError` and
   * `read()`/`readInto()` copy bytes out. For zero-copy reading of a file
   * you may not write, use `{ writable: true, shared: false }`: the file is
   * opened read-only and your writes stay in your private copy.
   * @default {false}
   */
  writable?: boolean;
  /**
   * `MAP_SHARED` (writes reach the file and other mappers) or, when
   * `false`, `MAP_PRIVATE` (copy-on-write: writes are this process's own;
   * the file is opened read-only).
   * @default {true}
   */
  shared?: boolean;
  /**
   * Create the file if it does not exist (`O_CREAT`); needs `size`.
   * @default {false}
   */
  create?: boolean;
  /**
   * Permission bits of a new file (before the umask).
   * @default {0o644}
   */
  mode?: number;
}

function toPath(path: string | URL): string {
  if (path instanceof URL) {
    if (path.protocol !== "file:") {
      throw new TypeError(`Only file: URLs can be mapped, got ${path.href}`);
    }
    return decodeURIComponent(path.pathname);
  }
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`A path must be a non-empty string or file: URL`);
  }
  return path;
}

/**
 * Maps a file into memory (mmap(2)): its bytes as an `ArrayBuffer`, read
 * and written in place, shared with every process mapping the same file.
 * Growing the file on the way (with `create` or `writable`) reserves the
 * space with posix_fallocate(3). Needs `--allow-ffi` in Deno (the file is
 * opened by libc, so `--allow-read`/`--allow-write` do not govern it).
 *
 * @example A file as a shared record store
 * ```ts
 * import { mapFile } from "@ipckit/ipc/shm";
 *
 * const path = await Deno.makeTempFile();
 * using map = mapFile(path, { size: 4096, writable: true });
 * map.view(Float64Array, 8, 1)[0] = Math.PI;
 * map.flush();
 * await Deno.remove(path);
 * ```
 *
 * @param path The file.
 * @param options Size, access and creation.
 * @returns The mapping.
 * @throws {TypeError} For a bad path, or `create` without `size`.
 * @throws {RangeError} For a bad size or mode.
 * @throws {IpcError} `ENOENT`, `EACCES`, `ENOSPC`, `EINVAL` (the file is
 *   empty, or shorter than `size` and may not grow), `ENODEV` (a file
 *   system that cannot be mapped).
 */
export function mapFile(
  path: string | URL,
  options: MapFileOptions = {},
): MappedFile {
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
 * using map = mapFile(path, { writable: true, shared: false });
 * console.log(new TextDecoder().decode(new Uint8Array(map.buffer))); // hello
 * await Deno.remove(path);
 * ```
 */
export class MappedFile implements Disposable {
  /** The file's path. */
  readonly path: string;
  /** Whether the mapping is writable. */
  readonly writable: boolean;
  /** Whether writes reach the file (`MAP_SHARED`) or stay private. */
  readonly shared: boolean;
  #fd: number;
  #region: Region | undefined;

  private constructor(
    path: string,
    fd: number,
    region: Region,
    shared: boolean,
  ) {
    this.path = path;
    this.#fd = fd;
    this.#region = region;
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
   * using map = MappedFile.open(path, { size: 16, create: true, writable: true });
   * console.log(map.size); // 16
   * await Deno.remove(path);
   * ```
   *
   * @param path The file.
   * @param options Size, access and creation.
   * @returns The mapping.
   * @throws {TypeError} For a bad path, or `create` without `size`.
   * @throws {RangeError} For a bad size or mode.
   * @throws {IpcError} As {@linkcode mapFile}.
   */
  static open(path: string | URL, options: MapFileOptions = {}): MappedFile {
    const file = toPath(path);
    const cpath = cString(file);
    const {
      size,
      writable = false,
      shared = true,
      create = false,
      mode = 0o644,
    } = options;
    if (size !== undefined) checkSize(size);
    checkMode(mode);
    if (create && size === undefined) {
      throw new TypeError(`Cannot create "${file}" without a size`);
    }
    const mayGrow = create || (writable && shared);
    const flags = (mayGrow ? O_RDWR : O_RDONLY) | O_CLOEXEC |
      (create ? O_CREAT : 0);
    const failure: IpcErrorOptions = {
      syscall: "open",
      path: file,
      action: "map file",
    };
    const fd = sys(() => libc().open(cpath, flags, mode), failure);
    try {
      const current = fileStatus(fd, failure).size;
      const length = size ?? current;
      if (length > current) {
        if (!mayGrow) {
          throw new IpcError("EINVAL", {
            ...failure,
            syscall: "fstat",
            hint: `The file has ${current} bytes, fewer than ${length}; ` +
              `pass { writable: true } or { create: true } to grow it`,
          });
        }
        reserve(fd, current, length, failure, `the file system of ${file}`);
        sys(() => libc().ftruncate(fd, length), {
          ...failure,
          syscall: "ftruncate",
        });
      }
      if (length === 0) {
        throw new IpcError("EINVAL", {
          ...failure,
          syscall: "fstat",
          hint: "The file is empty: pass { size } to grow it",
        });
      }
      const pointer = mapDescriptor(
        fd,
        length,
        writable ? PROT_READ | PROT_WRITE : PROT_READ,
        shared ? MAP_SHARED : MAP_PRIVATE,
        failure,
      );
      return new MappedFile(
        file,
        fd,
        new Region(pointer, length, writable),
        shared,
      );
    } catch (error) {
      libc().close(fd);
      throw error;
    }
  }

  #check(syscall: string): Region {
    if (this.#region === undefined) throw closedError(WHAT, this.path, syscall);
    return this.#region;
  }

  /** Whether {@linkcode MappedFile.close} has been called. */
  get closed(): boolean {
    return this.#region === undefined;
  }

  /**
   * The file's descriptor (close-on-exec). Escape hatch, for
   * {@linkcode FileLock.fromDescriptor}: do not close it yourself.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get fd(): number {
    this.#check("fd");
    return this.#fd;
  }

  /**
   * Bytes mapped.
   *
   * @throws {IpcError} `EBADF` when closed.
   */
  get size(): number {
    return this.#check("size").size;
  }

  /**
   * The mapping as one `ArrayBuffer`, zero copy; detached by `close()`.
   *
   * @example
   * ```ts
   * import { mapFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using map = mapFile(path, { size: 8, writable: true });
   * new Uint8Array(map.buffer)[0] = 1;
   * await Deno.remove(path);
   * ```
   *
   * @throws {TypeError} For a read-only mapping (see
   *   {@linkcode MapFileOptions.writable}).
   * @throws {IpcError} `EBADF` when closed.
   */
  get buffer(): ArrayBuffer {
    return this.#check("mmap").buffer(WHAT);
  }

  /**
   * A typed array over part of the mapping, checked for alignment and
   * range.
   *
   * @example
   * ```ts
   * import { mapFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * using map = mapFile(path, { size: 64, writable: true });
   * map.view(Int32Array, 4, 1)[0] = 7;
   * await Deno.remove(path);
   * ```
   *
   * @param type The typed-array constructor, such as `Int32Array`.
   * @param byteOffset Where the view starts; a multiple of
   *   `type.BYTES_PER_ELEMENT`.
   * @param length Elements; by default as many as fit.
   * @returns The view.
   * @throws {RangeError} When misaligned or out of range.
   * @throws {TypeError} For a read-only mapping.
   * @throws {IpcError} `EBADF` when closed.
   */
  view<T extends ArrayBufferView>(
    type: TypedArrayConstructor<T>,
    byteOffset = 0,
    length?: number,
  ): T {
    return this.#check("mmap").view(type, byteOffset, length, WHAT);
  }

  /**
   * Copies bytes out of the mapping (the way to read a read-only one).
   *
   * @example
   * ```ts
   * import { mapFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * await Deno.writeTextFile(path, "abc");
   * using map = mapFile(path);
   * console.log(map.read(1, 2)); // Uint8Array(2) [ 98, 99 ]
   * await Deno.remove(path);
   * ```
   *
   * @param byteOffset Where to start.
   * @param length How many bytes; by default up to the end.
   * @returns A copy the caller owns.
   * @throws {RangeError} When out of range.
   * @throws {IpcError} `EBADF` when closed.
   */
  read(byteOffset = 0, length?: number): Uint8Array {
    return this.#check("read").read(byteOffset, length);
  }

  /**
   * Copies bytes from the mapping into `target`, as many as fit.
   *
   * @example
   * ```ts
   * import { mapFile } from "@ipckit/ipc/shm";
   *
   * const path = await Deno.makeTempFile();
   * await Deno.writeTextFile(path, "abc");
   * using map = mapFile(path);
   * console.log(map.readInto(new Uint8Array(8))); // 3
   * await Deno.remove(path);
   * ```
   *
   * @param target Where to copy to.
   * @param byteOffset Where to start in the mapping.
   * @returns The number of bytes copied.
   * @throws {RangeError} When the offset is out of range.
   * @throws {IpcError} `EBADF` when closed.
   */
  readInto(target: Uint8Array, byteOffset = 0): number {
    return this.#check("read").readInto(target, byteOffset);
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
   * using map = mapFile(path, { size: 8, writable: true });
   * new Uint8Array(map.buffer).fill(1);
   * map.flush();
   * await Deno.remove(path);
   * ```
   *
   * @throws {IpcError} `EBADF` when closed, `EIO`.
   */
  flush(): void {
    const region = this.#check("msync");
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
   * const map = mapFile(path, { size: 8, writable: true });
   * map.close();
   * map.close(); // no-op
   * await Deno.remove(path);
   * ```
   */
  close(): void {
    const region = this.#region;
    if (region === undefined) return;
    this.#region = undefined;
    region.detach();
    libc().munmap(region.pointer, region.size);
    libc().close(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@linkcode MappedFile.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
