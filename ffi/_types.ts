// The runtime-neutral description of a native function. Each backend turns
// these kinds into its own FFI definitions.

/**
 * The kind of a native argument or result.
 *
 * - `i32`, `u32`, `i64`, `u64`, `isize`, `usize`: integers; 64-bit kinds
 *   arrive as `number` (every value this project handles fits in 2^53).
 * - `ptr`: an opaque {@link Pointer} (or `null` for NULL).
 * - `buffer`: a typed array passed by address (arguments only).
 * - `void`: no result.
 */
export type NativeKind =
  | "void"
  | "i32"
  | "u32"
  | "i64"
  | "u64"
  | "isize"
  | "usize"
  | "ptr"
  | "buffer";

/** One native function: its argument kinds and result kind. */
export interface NativeFunction {
  /** Argument kinds, in C order. */
  readonly args: readonly NativeKind[];
  /** Result kind. */
  readonly returns: NativeKind;
}

/** A table of native functions by C name. */
export type SymbolTable = Readonly<Record<string, NativeFunction>>;

/**
 * A native pointer, opaque outside `ffi/` (Deno uses pointer objects, Bun
 * uses numbers). `null` stands for NULL.
 */
export interface Pointer {
  /** Never present at run time: only makes the type distinct. */
  readonly __ipckitPointer: never;
}

/** A value passed to or returned from a native function. */
export type NativeValue =
  | number
  | bigint
  | Pointer
  | null
  | ArrayBufferView
  | undefined;

/** The callable form of a native function. */
export type NativeCall = (...args: NativeValue[]) => number;

/** Keeps a background wait running while something waits. */
export interface Keeper {
  /** Something waits: keep the process alive and the wait running. */
  ref(): void;
  /** Nothing waits: let the process exit. */
  unref(): void;
}

/** Gets one finished futex wait: its slot, token and result. */
export type FutexReport = (slot: number, token: number, result: string) => void;

/** What each runtime provides; chosen once, on first use. */
export interface Backend {
  /** `"deno"` or `"bun"`. */
  readonly runtime: "deno" | "bun";
  /** Opens a shared library with the given table; throws if it fails. */
  open(path: string, table: SymbolTable): Record<string, NativeCall>;
  /** Reads the calling thread's errno. */
  errno(): number;
  /** The address of a typed array's first byte, as a number. */
  addressOf(view: ArrayBufferView): number;
  /** A pointer from an address. */
  pointerFrom(address: number): Pointer | null;
  /** The numeric address of a pointer (0 for NULL). */
  addressOfPointer(pointer: Pointer | null): number;
  /** An ArrayBuffer over native memory, without copying. */
  view(pointer: Pointer, byteLength: number): ArrayBuffer;
  /**
   * Binds the function at `target` with the signature `fn`, called through
   * `via` (a function of the library at `path` that takes the target as a
   * first argument and the target's own arguments after it).
   */
  bindThrough(
    path: string,
    via: string,
    target: Pointer,
    fn: NativeFunction,
  ): NativeCall;
  /**
   * Starts waiting in epoll_wait on `epfd` off the main thread: `onFired`
   * gets [token, events] pairs on the main thread; `onFailure` gets an error
   * that stops the waiting for good (a helper thread that could not start).
   */
  startReactor(
    epfd: number,
    onFired: (fired: Uint32Array) => void,
    onFailure: (error: Error) => void,
  ): Keeper;
  /**
   * Starts waiting in futex_waitv on the slot table in `buffer` (see
   * _futex_slots.ts) off the main thread; `onReport` gets finished waits on
   * the main thread.
   */
  startFutexWaiter(
    buffer: SharedArrayBuffer,
    onReport: FutexReport,
    onFailure: (error: Error) => void,
  ): Keeper;
  /** Lets the process exit while `timer` (a setTimeout result) is pending. */
  unrefTimer(timer: unknown): void;
}

/** Describes one native function (used by the symbol tables). */
export function native<
  const A extends readonly NativeKind[],
  const R extends NativeKind,
>(args: A, returns: R): { readonly args: A; readonly returns: R } {
  return { args, returns };
}

/** A symbol table and the libraries to try for it, in order. */
export type SymbolGroup = readonly [SymbolTable, readonly string[]];
