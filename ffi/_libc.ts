// The libc functions ipckit calls (described once, by C header, in
// _symbols.ts), bound lazily one by one: importing costs nothing and needs no
// permission, and a function this C library lacks is an error only where it
// is used. Each call goes through the errno-safe trampoline where it loads.
import type { Backend, NativeCall, NativeFunction } from "./_types.ts";
import { denoBackend } from "./_deno.ts";
import { bunBackend } from "./_bun.ts";
import {
  type FcntlCalls,
  type MmanCalls,
  type MmanRtCalls,
  type MqueueCalls,
  type PollCalls,
  type SemaphoreCalls,
  type SocketCalls,
  type StdlibCalls,
  SYMBOL_GROUPS,
  type SysvMsgCalls,
  type SysvSemCalls,
  type SysvShmCalls,
  type TimeCalls,
  type UnistdCalls,
} from "./_symbols.ts";
import {
  isPermissionError,
  loadTrampoline,
  type Trampoline,
} from "./_trampoline.ts";

/**
 * Every libc function ipckit binds, callable synchronously, grouped by C
 * header in the interfaces it extends.
 */
export interface Libc
  extends
    UnistdCalls,
    PollCalls,
    FcntlCalls,
    MmanCalls,
    MmanRtCalls,
    MqueueCalls,
    SemaphoreCalls,
    TimeCalls,
    SysvMsgCalls,
    SysvSemCalls,
    SysvShmCalls,
    SocketCalls,
    StdlibCalls {}

let backendCache: Backend | undefined;
let libcCache: Libc | undefined;
let trampolineCache: Trampoline | null | undefined;

/**
 * The FFI backend of the running runtime (Deno or Bun), chosen once.
 *
 * @example
 * ```ts
 * import { backend } from "@ipckit/ipc/ffi";
 *
 * console.log(backend().runtime); // "deno" or "bun"
 * ```
 *
 * @returns The backend.
 */
export function backend(): Backend {
  if (backendCache === undefined) {
    const g = globalThis as { Bun?: unknown; Deno?: unknown };
    if (g.Bun !== undefined) backendCache = bunBackend();
    else if (g.Deno !== undefined) backendCache = denoBackend();
    else throw new Error("ipckit runs on Deno or Bun: no FFI backend found");
  }
  return backendCache;
}

/** The trampoline, or `null` where it cannot load (see _trampoline.ts). */
function trampoline(): Trampoline | null {
  if (trampolineCache === undefined) {
    trampolineCache = forcedPlain ? null : loadTrampoline(backend()) ?? null;
    // Direct binding: find errno's address now, not in the first read after
    // a failed call (finding it makes calls of its own).
    if (trampolineCache === null) backend().errno();
  }
  return trampolineCache;
}

let forcedPlain = false;

/** Where the trampoline was loaded from, or `null` (for the backends). */
export function trampolinePath(): string | null {
  return trampoline()?.path ?? null;
}

/**
 * Whether libc calls go through the errno-safe trampoline (`"trampoline"`),
 * or are bound directly with errno read by a second call (`"direct"`, where the
 * trampoline cannot load). For tests and diagnostics.
 *
 * @example
 * ```ts
 * import { errnoCapture } from "@ipckit/ipc/ffi";
 *
 * console.log(errnoCapture()); // "trampoline" here
 * ```
 *
 * @returns `"trampoline"` or `"direct"`.
 */
export function errnoCapture(): "trampoline" | "direct" {
  return trampoline() === null ? "direct" : "trampoline";
}

const definitions = new Map<string, [NativeFunction, readonly string[]]>();
for (const [table, libraries] of SYMBOL_GROUPS) {
  for (const [name, fn] of Object.entries(table)) {
    definitions.set(name, [fn as NativeFunction, libraries]);
  }
}

function missing(name: string, libraries: readonly string[]): Error {
  return new Error(
    `${name}() is not in this C library (looked in ${
      libraries.join(", ")
    }); ipckit needs glibc 2.30 or later`,
  );
}

/** Binds one function: through the trampoline, or directly. */
function bind(name: string): NativeCall {
  const [fn, libraries] = definitions.get(name)!;
  const b = backend();
  const t = trampoline();
  if (t !== null) {
    const address = t.address(name, libraries);
    if (address === null) throw missing(name, libraries);
    return b.bindThrough(t.path, "ipckit_call", address, fn);
  }
  for (const library of libraries) {
    try {
      const call = b.open(library, { [name]: fn })[name];
      if (call !== undefined) return call;
    } catch (error) {
      if (isPermissionError(error)) throw error;
    }
  }
  throw missing(name, libraries);
}

/**
 * The libc binding. Each function binds on its first use (`--allow-ffi` in
 * Deno), so a function this C library lacks fails only where it is used.
 * Each is the raw C call: check its result and read {@linkcode errno} at
 * once, or use `sys()` / `trySys()` which do both.
 *
 * @example
 * ```ts
 * import { libc } from "@ipckit/ipc/ffi";
 *
 * console.log(libc().getpid() > 0); // true
 * ```
 *
 * @returns The binding.
 */
export function libc(): Libc {
  if (libcCache === undefined) {
    backend(); // fail here, clearly, on an unknown runtime
    const calls = {} as Record<string, NativeCall>;
    for (const name of definitions.keys()) {
      Object.defineProperty(calls, name, {
        configurable: true,
        enumerable: true,
        get() {
          const call = bind(name);
          Object.defineProperty(calls, name, { value: call, enumerable: true });
          return call;
        },
      });
    }
    libcCache = calls as unknown as Libc;
  }
  return libcCache;
}

/**
 * Whether this C library has `name` (one of the functions {@linkcode libc}
 * binds), for choosing a fallback (`sem_clockwait` needs glibc 2.30).
 *
 * @example
 * ```ts
 * import { hasLibcFunction } from "@ipckit/ipc/ffi";
 *
 * console.log(hasLibcFunction("sem_clockwait")); // true on glibc 2.30+
 * ```
 *
 * @param name The function's C name.
 * @returns `true` when it can be bound.
 */
export function hasLibcFunction(name: keyof Libc): boolean {
  try {
    return typeof libc()[name] === "function";
  } catch (error) {
    if (isPermissionError(error)) throw error;
    return false;
  }
}

/**
 * The calling thread's errno as the last libc call left it; read it right
 * after the failing call. Through the trampoline it is the copy taken in the
 * call's own native frame, so nothing the engine does in between can change
 * it.
 *
 * @example
 * ```ts
 * import { errno, libc } from "@ipckit/ipc/ffi";
 *
 * if (libc().close(9999) === -1) console.log(errno()); // 9 (EBADF)
 * ```
 *
 * @returns The errno value.
 */
export function errno(): number {
  const t = trampolineCache;
  return t ? t.errno() : backend().errno();
}

/**
 * Binds libc directly, without the trampoline, for the rest of the process
 * (tests use it to run the suite both ways). Call it before the first libc
 * call.
 *
 * @example
 * ```ts
 * import { useDirectBinding } from "@ipckit/ipc/ffi";
 *
 * useDirectBinding();
 * ```
 */
export function useDirectBinding(): void {
  if (libcCache !== undefined && trampolineCache !== undefined) {
    throw new Error("useDirectBinding() must come before the first libc call");
  }
  forcedPlain = true;
}
