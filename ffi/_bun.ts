// The Bun backend: bun:ffi, loaded with import.meta.require (synchronous, so
// libc can open lazily inside a synchronous call) and only under Bun, so Deno
// never touches the module. Bun has no asynchronous FFI: the reactor and the
// futex table each wait in a worker thread (node:worker_threads, also
// required only here) that runs _bun_worker.ts.
import type {
  Backend,
  FutexReport,
  Keeper,
  NativeCall,
  NativeKind,
  Pointer,
  SymbolTable,
} from "./_types.ts";
import type { BunWorkerData } from "./_bun_worker.ts";
import { BUN_WORKER_SOURCE } from "./_bun_worker_source.ts";

// The part of bun:ffi this backend uses, declared here so the Deno type
// checker never needs Bun's types.
interface BunFfi {
  dlopen(
    path: string,
    defs: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, NativeCall & { ptr: number }> };
  linkSymbols(
    defs: Record<string, { ptr: number; args: string[]; returns: string }>,
  ): { symbols: Record<string, NativeCall> };
  ptr(view: ArrayBufferView): number;
  toArrayBuffer(address: number, offset: number, length: number): ArrayBuffer;
  read: { i32(address: number, offset: number): number };
}

const KINDS: Record<NativeKind, string> = {
  void: "void",
  i32: "i32",
  u32: "u32",
  i64: "i64_fast",
  u64: "u64_fast",
  isize: "i64_fast",
  usize: "u64_fast",
  ptr: "ptr",
  buffer: "ptr",
};

interface NodeWorker {
  on(event: string, listener: (value: never) => void): void;
  ref(): void;
  unref(): void;
}
type WorkerClass = new (
  source: string | URL,
  options: { workerData: unknown; eval?: boolean },
) => NodeWorker;

/**
 * Where a helper thread's code comes from: the module beside this file when
 * ipckit runs from its TypeScript source (an edit takes effect at once), or
 * else the same module bundled into a string (_bun_worker_source.ts), started
 * with `eval`, which needs no file: a `bun build` bundle, a compiled
 * executable and the npm build carry it inside. IPCKIT_BUN_WORKER=embedded
 * forces the string (tests run the suite through it).
 */
function workerCode(
  require: (id: string) => unknown,
): [string | URL, boolean] {
  const url = new URL("./_bun_worker.ts", import.meta.url);
  const { existsSync } = require("node:fs") as {
    existsSync(path: URL): boolean;
  };
  const env = (globalThis as { process?: { env: Record<string, unknown> } })
    .process?.env;
  if (
    env?.IPCKIT_BUN_WORKER !== "embedded" && url.protocol === "file:" &&
    existsSync(url)
  ) {
    return [url, false];
  }
  if (BUN_WORKER_SOURCE === "") {
    throw new Error(
      "ffi/_bun_worker_source.ts is empty: run `node scripts/build.mjs --worker`",
    );
  }
  return [BUN_WORKER_SOURCE, true];
}

/**
 * Starts a helper thread and keeps it referenced only while something
 * waits. If it cannot start or dies, `onFailure` hears it at once instead
 * of waits hanging.
 */
function helperThread(
  data: BunWorkerData,
  onMessage: (message: never) => void,
  onFailure: (error: Error) => void,
): Keeper {
  const what = `ipckit's ${data.kind} helper thread`;
  let failed = false;
  const fail = (cause: unknown) => {
    if (failed) return;
    failed = true;
    onFailure(
      new Error(`${what} failed: ${(cause as Error)?.message ?? cause}`, {
        cause,
      }),
    );
  };
  try {
    const meta = import.meta as unknown as { require(id: string): unknown };
    const { Worker } = meta.require("node:worker_threads") as {
      Worker: WorkerClass;
    };
    const [code, isCode] = workerCode(meta.require);
    const worker = new Worker(code, { workerData: data, eval: isCode });
    worker.on("message", onMessage);
    worker.on("error", fail);
    worker.on("exit", (code: number) => fail(`it exited (code ${code})`));
    worker.unref();
    return { ref: () => worker.ref(), unref: () => worker.unref() };
  } catch (error) {
    queueMicrotask(() => fail(error));
    return { ref() {}, unref() {} };
  }
}

let errnoAddress = 0;
// The address of each trampoline function, and one link per signature.
const viaAddresses = new Map<string, number>();
const throughCache = new Map<string, NativeCall>();

/** Makes the Bun backend. */
export function bunBackend(): Backend {
  const meta = import.meta as unknown as { require(id: string): unknown };
  const ffi = meta.require("bun:ffi") as BunFfi;
  const backend: Backend = {
    runtime: "bun",
    open(path: string, table: SymbolTable): Record<string, NativeCall> {
      const defs: Record<string, { args: string[]; returns: string }> = {};
      for (const [name, fn] of Object.entries(table)) {
        defs[name] = {
          args: fn.args.map((k) => KINDS[k]),
          returns: KINDS[fn.returns],
        };
      }
      return ffi.dlopen(path, defs).symbols;
    },
    bindThrough(path, via, target, fn): NativeCall {
      const where = `${path}:${via}`;
      let address = viaAddresses.get(where);
      if (address === undefined) {
        address = ffi.dlopen(path, { [via]: { args: [], returns: "void" } })
          .symbols[via]!.ptr;
        viaAddresses.set(where, address);
      }
      const key = `${where}:${fn.args.join()}:${fn.returns}`;
      let symbol = throughCache.get(key);
      if (symbol === undefined) {
        symbol = ffi.linkSymbols({
          f: {
            ptr: address,
            args: ["ptr", ...fn.args.map((k) => KINDS[k])],
            returns: KINDS[fn.returns],
          },
        }).symbols.f!;
        throughCache.set(key, symbol);
      }
      return bindFirst(symbol, target as unknown as number, fn.args.length);
    },
    startReactor(epfd, onFired, onFailure): Keeper {
      return helperThread(
        { kind: "reactor", epfd },
        onFired as (message: never) => void,
        onFailure,
      );
    },
    startFutexWaiter(buffer, onReport: FutexReport, onFailure): Keeper {
      return helperThread(
        { kind: "futex", buffer },
        (([slot, token, result]: [number, number, string]) =>
          onReport(slot, token, result)) as (message: never) => void,
        onFailure,
      );
    },
    unrefTimer(timer: unknown): void {
      (timer as { unref?(): void }).unref?.();
    },
    errno(): number {
      if (errnoAddress === 0) {
        errnoAddress = ffi.dlopen("libc.so.6", {
          __errno_location: { args: [], returns: "ptr" },
        }).symbols.__errno_location!();
      }
      return ffi.read.i32(errnoAddress, 0);
    },
    addressOf(view: ArrayBufferView): number {
      return ffi.ptr(view);
    },
    pointerFrom(address: number): Pointer | null {
      return (address === 0 ? null : address) as unknown as Pointer | null;
    },
    addressOfPointer(pointer: Pointer | null): number {
      return (pointer ?? 0) as unknown as number;
    },
    view(pointer: Pointer, byteLength: number): ArrayBuffer {
      return ffi.toArrayBuffer(pointer as unknown as number, 0, byteLength);
    },
  };
  return backend;
}

/** `symbol` with `first` put before the caller's arguments; one closure per arity. */
function bindFirst(
  symbol: NativeCall,
  first: number,
  arity: number,
): NativeCall {
  const s = symbol as (...args: unknown[]) => number;
  switch (arity) {
    case 0:
      return () => s(first);
    case 1:
      return (a) => s(first, a);
    case 2:
      return (a, b) => s(first, a, b);
    case 3:
      return (a, b, c) => s(first, a, b, c);
    case 4:
      return (a, b, c, d) => s(first, a, b, c, d);
    case 5:
      return (a, b, c, d, e) => s(first, a, b, c, d, e);
    case 6:
      return (a, b, c, d, e, f) => s(first, a, b, c, d, e, f);
    case 7:
      return (a, b, c, d, e, f, g) => s(first, a, b, c, d, e, f, g);
    default:
      return (...args) => s(first, ...args);
  }
}
