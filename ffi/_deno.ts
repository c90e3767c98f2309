// The Deno backend: Deno.dlopen with synchronous symbols, and `nonblocking`
// symbols (run on Deno's blocking thread pool, resolved on the main thread)
// for the reactor's epoll_wait and the futex table's futex_waitv: one thread
// hop, no worker. Used only when the runtime is Deno.
import type {
  Backend,
  FutexReport,
  Keeper,
  NativeCall,
  NativeKind,
  Pointer,
  SymbolTable,
} from "./_types.ts";
import { libc, trampolinePath } from "./_libc.ts";
import { decodeEvents, encodeEvent, epollEvents } from "./_epoll.ts";
import { repeatingCall } from "./_repeating_call.ts";
import { futexSlots } from "./_futex_slots.ts";
import { FutexWaiter, SYS_FUTEX_WAITV } from "./_futex_waiter.ts";
import { addressOf } from "./memory.ts";
import { arch } from "./platform.ts";

/**
 * The part of Deno's FFI this backend uses, typed here so that the source
 * type-checks without Deno's global types (a Bun user's `tsc` has none).
 */
type DenoNativeType =
  | "void"
  | "i32"
  | "u32"
  | "i64"
  | "u64"
  | "isize"
  | "usize"
  | "pointer"
  | "buffer";
interface DenoForeignFunction {
  name?: string;
  parameters: DenoNativeType[];
  result: DenoNativeType;
  nonblocking?: boolean;
}
/** A Deno pointer object (opaque), or null for NULL. */
type DenoPointer = object | null;
interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, DenoForeignFunction>,
  ): { symbols: Record<string, DenoSymbol> };
  UnsafePointer: {
    of(view: ArrayBufferView): DenoPointer;
    value(pointer: DenoPointer): number | bigint;
    create(value: bigint): DenoPointer;
  };
  UnsafePointerView: new (pointer: object) => {
    getInt32(offset?: number): number;
    getArrayBuffer(byteLength: number, offset?: number): ArrayBuffer;
  };
  unrefTimer(id: number): void;
}

/** The symbol `name` of a library Deno.dlopen opened. */
function symbolOf(
  symbols: Record<string, DenoSymbol>,
  name: string,
): DenoSymbol {
  const symbol = symbols[name];
  if (symbol === undefined) throw new Error(`Deno.dlopen gave no "${name}"`);
  return symbol;
}

/** Deno's namespace, reached through globalThis (only when Deno runs). */
function denoFfi(): DenoFfi {
  return (globalThis as unknown as { Deno: DenoFfi }).Deno;
}

const KINDS: Record<NativeKind, DenoNativeType> = {
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
  const same = (x: Arg): Arg => x;
  const at = (i: number): (x: Arg) => Arg => wide[i] ? big : same;
  const [c0, c1, c2, c3, c4, c5, c6] = [0, 1, 2, 3, 4, 5, 6].map(at) as [
    (x: Arg) => Arg,
    (x: Arg) => Arg,
    (x: Arg) => Arg,
    (x: Arg) => Arg,
    (x: Arg) => Arg,
    (x: Arg) => Arg,
    (x: Arg) => Arg,
  ];
  const s = first === undefined
    ? symbol
    : (...args: unknown[]) => symbol(first, ...args);
  switch (kinds.length) {
    case 0:
      return first === undefined ? symbol : () => symbol(first);
    case 1:
      return first === undefined
        ? (a) => symbol(c0(a))
        : (a) => symbol(first, c0(a));
    case 2:
      return first === undefined
        ? (a, b) => symbol(c0(a), c1(b))
        : (a, b) => symbol(first, c0(a), c1(b));
    case 3:
      return first === undefined
        ? (a, b, d) => symbol(c0(a), c1(b), c2(d))
        : (a, b, d) => symbol(first, c0(a), c1(b), c2(d));
    case 4:
      return first === undefined
        ? (a, b, d, e) => symbol(c0(a), c1(b), c2(d), c3(e))
        : (a, b, d, e) => symbol(first, c0(a), c1(b), c2(d), c3(e));
    case 5:
      return first === undefined
        ? (a, b, d, e, f) => symbol(c0(a), c1(b), c2(d), c3(e), c4(f))
        : (a, b, d, e, f) => symbol(first, c0(a), c1(b), c2(d), c3(e), c4(f));
    case 6:
      return first === undefined
        ? (a, b, d, e, f, g) => symbol(c0(a), c1(b), c2(d), c3(e), c4(f), c5(g))
        : (a, b, d, e, f, g) =>
          symbol(first, c0(a), c1(b), c2(d), c3(e), c4(f), c5(g));
    case 7:
      return first === undefined
        ? (a, b, d, e, f, g, h) =>
          symbol(c0(a), c1(b), c2(d), c3(e), c4(f), c5(g), c6(h))
        : (a, b, d, e, f, g, h) =>
          symbol(
            first,
            c0(a),
            c1(b),
            c2(d),
            c3(e),
            c4(f),
            c5(g),
            c6(h),
          );
    default:
      return (...args) => s(...args.map((x, i) => at(i)(x)));
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

let errnoView: { getInt32(offset?: number): number } | undefined;

/** Makes the Deno backend. */
export function denoBackend(): Backend {
  const Deno = denoFfi();
  return {
    runtime: "deno",
    open(path: string, table: SymbolTable): Record<string, NativeCall> {
      const defs: Record<string, DenoForeignFunction> = {};
      for (const [name, fn] of Object.entries(table)) {
        defs[name] = {
          parameters: fn.args.map((k) => KINDS[k]),
          result: KINDS[fn.returns],
        };
      }
      const symbols = Deno.dlopen(path, defs).symbols;
      const calls: Record<string, NativeCall> = {};
      for (const [name, fn] of Object.entries(table)) {
        calls[name] = narrowResult(
          adapt(symbolOf(symbols, name), fn.args),
          fn.returns,
        );
      }
      return calls;
    },
    bindThrough(path, via, target, fn): NativeCall {
      const key = `${path}:${via}:${fn.args.join()}:${fn.returns}`;
      let symbol = throughCache.get(key);
      if (symbol === undefined) {
        const { symbols } = Deno.dlopen(path, {
          f: {
            name: via,
            parameters: [
              "pointer",
              ...fn.args.map((k) => KINDS[k]),
            ],
            result: KINDS[fn.returns],
          },
        });
        symbol = symbolOf(symbols, "f");
        throughCache.set(key, symbol);
      }
      return narrowResult(adapt(symbol, fn.args, target), fn.returns);
    },
    errno(): number {
      if (errnoView === undefined) {
        const lib = Deno.dlopen("libc.so.6", {
          __errno_location: { parameters: [], result: "pointer" },
        });
        const location = symbolOf(lib.symbols, "__errno_location")();
        errnoView = new Deno.UnsafePointerView(location as object);
      }
      return errnoView.getInt32(0);
    },
    addressOf(view: ArrayBufferView): number {
      return Number(Deno.UnsafePointer.value(
        Deno.UnsafePointer.of(view),
      ));
    },
    pointerFrom(address: number): Pointer | null {
      return Deno.UnsafePointer.create(BigInt(address)) as Pointer | null;
    },
    addressOfPointer(pointer: Pointer | null): number {
      return Number(
        Deno.UnsafePointer.value(pointer as DenoPointer),
      );
    },
    view(pointer: Pointer, byteLength: number): ArrayBuffer {
      return new Deno.UnsafePointerView(
        pointer as object,
      ).getArrayBuffer(byteLength);
    },
    startReactor,
    startFutexWaiter,
    unrefTimer(timer: unknown): void {
      Deno.unrefTimer(timer as number);
    },
  };
}

type AsyncCall = (...args: unknown[]) => Promise<number | bigint>;
const asyncCalls = new Map<string, AsyncCall>();

/** A `nonblocking` symbol (cached): it runs on Deno's blocking thread pool. */
function nonblocking(
  path: string,
  name: string,
  parameters: DenoNativeType[],
): AsyncCall {
  const key = `${path}:${name}`;
  let call = asyncCalls.get(key);
  if (call === undefined) {
    const { symbols } = denoFfi().dlopen(path, {
      f: { name, parameters, result: "i32", nonblocking: true },
    });
    call = symbolOf(symbols, "f") as AsyncCall;
    asyncCalls.set(key, call);
  }
  return call;
}

const MAX_EVENTS = 64;
const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;
const EFD_CLOEXEC_NONBLOCK = 0x80800;
const FUTEX_WAKE = 1;

/**
 * The reactor under Deno: epoll_wait(epfd, events, 64, -1) as a nonblocking
 * call. Its errno is lost, which is fine here: the result alone says how
 * many events fired, and -1 can only be EINTR on our own epoll descriptor.
 */
function startReactor(
  epfd: number,
  onFired: (fired: Uint32Array) => void,
  onFailure: (error: Error) => void,
): Keeper {
  const epollWait = nonblocking("libc.so.6", "epoll_wait", [
    "i32",
    "buffer",
    "i32",
    "i32",
  ]);
  const events = epollEvents(MAX_EVENTS);
  // Writing this eventfd (token 0) makes an in-flight epoll_wait return, so
  // an idle reactor leaves no call behind to keep the process alive.
  const stopFd = libc().eventfd(0, EFD_CLOEXEC_NONBLOCK);
  const control = epollEvents(1);
  encodeEvent(control, EPOLLIN, 0);
  libc().epoll_ctl(epfd, EPOLL_CTL_ADD, stopFd, control);
  const counter = new BigUint64Array(1);
  const one = new BigUint64Array([1n]);
  return repeatingCall(
    () =>
      epollWait(epfd, events, MAX_EVENTS, -1).then((n) => {
        if (Number(n) <= 0) return;
        const fired = decodeEvents(events, Number(n));
        // Token 0 is the stop eventfd: drain it only when it fired.
        for (let i = 0; i < fired.length; i += 2) {
          if (fired[i] === 0) libc().read(stopFd, counter, 8);
        }
        onFired(fired);
      }),
    () => libc().write(stopFd, one, 8),
    (error) => onFailure(error as Error),
  );
}

/**
 * The futex table under Deno: futex_waitv as a nonblocking call, through
 * the trampoline's ipckit_syscall where it is loaded (the result carries
 * -errno, so a failure is known even though the call ran on another
 * thread), else through libc's syscall (errno lost: the waiter probes).
 */
function startFutexWaiter(
  buffer: SharedArrayBuffer,
  onReport: FutexReport,
  onFailure: (error: Error) => void,
): Keeper {
  const slots = futexSlots(buffer);
  const waiter = new FutexWaiter(slots, onReport);
  const path = trampolinePath();
  const call = nonblocking(
    path ?? "libc.so.6",
    path === null ? "syscall" : "ipckit_syscall",
    ["i64", "usize", "i32", "i32", "pointer", "usize", "i32"],
  );
  const control = addressOf(slots.control);
  return repeatingCall(
    () => {
      const n = waiter.prepare();
      return call(
        BigInt(SYS_FUTEX_WAITV),
        BigInt(waiter.waitvAddress),
        n,
        0,
        null,
        0n,
        0,
      ).then((result) => {
        const r = Number(result);
        if (path === null) waiter.finish(r, r === -1 ? undefined : 0);
        else waiter.finish(r < 0 ? -1 : r, r < 0 ? -r : 0);
      });
    },
    () => {
      Atomics.add(slots.control, 0, 1);
      libc().syscall(arch().sysFutex, control, FUTEX_WAKE, 1, null, 0, 0);
    },
    (error) => onFailure(error as Error),
  );
}
