// The Deno backend: Deno.dlopen with synchronous symbols. Loaded only when
// the runtime is Deno.
import type {
  Backend,
  NativeCall,
  NativeKind,
  Pointer,
  SymbolTable,
} from "./_types.ts";

const KINDS: Record<NativeKind, Deno.NativeResultType> = {
  void: "void",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  isize: "isize",
  usize: "usize",
  ptr: "pointer",
  buffer: "buffer",
};
const WIDE = new Set<NativeKind>(["i64", "u64", "isize", "usize"]);

type DenoSymbol = (...args: unknown[]) => unknown;
type Arg = unknown;

const big = (x: Arg): Arg => typeof x === "number" ? BigInt(x) : x;

/**
 * Deno takes a slow path (about +0.8 µs a call, measured) when a 64-bit
 * parameter gets a number, and the fast one when it gets a bigint: convert
 * those arguments on the way in. `first`, when given, goes before the
 * caller's arguments (the target of a call through the trampoline). One
 * closure per arity keeps it monomorphic.
 */
function adapt(
  symbol: DenoSymbol,
  kinds: readonly NativeKind[],
  first?: unknown,
): DenoSymbol {
  const wide = kinds.map((k) => WIDE.has(k));
  if (first === undefined && !wide.includes(true)) return symbol;
  const c = kinds.map((_, i) => wide[i] ? big : (x: Arg) => x);
  const s = first === undefined
    ? symbol
    : (...args: unknown[]) => symbol(first, ...args);
  switch (kinds.length) {
    case 0:
      return first === undefined ? symbol : () => symbol(first);
    case 1:
      return first === undefined
        ? (a) => symbol(c[0](a))
        : (a) => symbol(first, c[0](a));
    case 2:
      return first === undefined
        ? (a, b) => symbol(c[0](a), c[1](b))
        : (a, b) => symbol(first, c[0](a), c[1](b));
    case 3:
      return first === undefined
        ? (a, b, d) => symbol(c[0](a), c[1](b), c[2](d))
        : (a, b, d) => symbol(first, c[0](a), c[1](b), c[2](d));
    case 4:
      return first === undefined
        ? (a, b, d, e) => symbol(c[0](a), c[1](b), c[2](d), c[3](e))
        : (a, b, d, e) => symbol(first, c[0](a), c[1](b), c[2](d), c[3](e));
    case 5:
      return first === undefined
        ? (a, b, d, e, f) => symbol(c[0](a), c[1](b), c[2](d), c[3](e), c[4](f))
        : (a, b, d, e, f) =>
          symbol(first, c[0](a), c[1](b), c[2](d), c[3](e), c[4](f));
    case 6:
      return first === undefined
        ? (a, b, d, e, f, g) =>
          symbol(c[0](a), c[1](b), c[2](d), c[3](e), c[4](f), c[5](g))
        : (a, b, d, e, f, g) =>
          symbol(first, c[0](a), c[1](b), c[2](d), c[3](e), c[4](f), c[5](g));
    default:
      return (...args) => s(...args.map((x, i) => c[i](x)));
  }
}

/** 64-bit results may come back as bigint; every value we handle fits a double. */
function narrowResult(symbol: DenoSymbol, returns: NativeKind): NativeCall {
  return (WIDE.has(returns)
    ? (...args: unknown[]) => Number(symbol(...args))
    : symbol) as NativeCall;
}

// One library handle per signature called through the trampoline.
const throughCache = new Map<string, DenoSymbol>();

let errnoView: Deno.UnsafePointerView | undefined;

/** Makes the Deno backend. */
export function denoBackend(): Backend {
  return {
    runtime: "deno",
    open(path: string, table: SymbolTable): Record<string, NativeCall> {
      const defs: Record<string, Deno.ForeignFunction> = {};
      for (const [name, fn] of Object.entries(table)) {
        defs[name] = {
          parameters: fn.args.map((k) => KINDS[k]) as Deno.NativeType[],
          result: KINDS[fn.returns],
        };
      }
      const symbols = Deno.dlopen(path, defs).symbols as Record<
        string,
        DenoSymbol
      >;
      const calls: Record<string, NativeCall> = {};
      for (const [name, fn] of Object.entries(table)) {
        calls[name] = narrowResult(adapt(symbols[name], fn.args), fn.returns);
      }
      return calls;
    },
    bindThrough(path, via, target, fn): NativeCall {
      const key = `${path}:${via}:${fn.args.join()}:${fn.returns}`;
      let symbol = throughCache.get(key);
      if (symbol === undefined) {
        symbol = Deno.dlopen(path, {
          f: {
            name: via,
            parameters: [
              "pointer",
              ...fn.args.map((k) => KINDS[k] as Deno.NativeType),
            ],
            result: KINDS[fn.returns],
          },
        }).symbols.f as DenoSymbol;
        throughCache.set(key, symbol);
      }
      return narrowResult(adapt(symbol, fn.args, target), fn.returns);
    },
    errno(): number {
      if (errnoView === undefined) {
        const lib = Deno.dlopen("libc.so.6", {
          __errno_location: { parameters: [], result: "pointer" },
        });
        errnoView = new Deno.UnsafePointerView(
          lib.symbols.__errno_location()!,
        );
      }
      return errnoView.getInt32(0);
    },
    addressOf(view: ArrayBufferView): number {
      return Number(Deno.UnsafePointer.value(
        Deno.UnsafePointer.of(view as ArrayBufferView<ArrayBuffer>),
      ));
    },
    pointerFrom(address: number): Pointer | null {
      return Deno.UnsafePointer.create(BigInt(address)) as Pointer | null;
    },
    addressOfPointer(pointer: Pointer | null): number {
      return Number(
        Deno.UnsafePointer.value(pointer as unknown as Deno.PointerValue),
      );
    },
    view(pointer: Pointer, byteLength: number): ArrayBuffer {
      return new Deno.UnsafePointerView(
        pointer as unknown as Deno.PointerObject,
      ).getArrayBuffer(byteLength);
    },
  };
}

type EpollWait = (
  epfd: number,
  events: Uint8Array,
  max: number,
  timeout: number,
) => Promise<number>;
let epollWaitSymbol: EpollWait | undefined;

/**
 * epoll_wait(epfd, events, max, -1) as a Deno `nonblocking` call: it runs on
 * Deno's blocking thread pool and resolves on the main thread.
 */
export function denoEpollWaitAsync(): (
  epfd: number,
  events: Uint8Array,
  max: number,
) => Promise<number> {
  const call: EpollWait = epollWaitSymbol ??= Deno.dlopen("libc.so.6", {
    epoll_wait: {
      parameters: ["i32", "buffer", "i32", "i32"],
      result: "i32",
      nonblocking: true,
    },
  }).symbols.epoll_wait as unknown as EpollWait;
  return (epfd, events, max) => call(epfd, events, max, -1);
}

type SyscallAsync = (
  nr: number,
  a1: number,
  a2: number,
  a3: number,
  a4: null,
  a5: number,
  a6: number,
) => Promise<number>;
let syscallSymbol: SyscallAsync | undefined;

/**
 * syscall(2) with six arguments as a Deno `nonblocking` call (for
 * futex_waitv): it runs on Deno's blocking thread pool and resolves on the
 * main thread. Its errno is lost; callers read only the result.
 */
export function denoSyscallAsync(): SyscallAsync {
  return syscallSymbol ??= Deno.dlopen("libc.so.6", {
    syscall: {
      parameters: ["i64", "usize", "i32", "i32", "pointer", "usize", "i32"],
      result: "i32",
      nonblocking: true,
    },
  }).symbols.syscall as unknown as SyscallAsync;
}
