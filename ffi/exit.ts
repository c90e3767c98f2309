// Removing temporary objects on every exit JavaScript sees: a normal end,
// process.exit(), an uncaught error or rejection, and SIGINT, SIGTERM or
// SIGHUP when the program does not handle them. Listeners are installed
// only while there is something to remove. SIGKILL (and a crash of the
// runtime itself) leaves the objects behind: `ipckit ls` finds them.
import process from "node:process";
import { libc } from "./_libc.ts";

type Remove = () => void;

const removals = new Map<number, Remove>();
let nextId = 0;
let installed = false;
/** Signals the program listens for in ways process.listenerCount misses. */
const claimed = new Map<string, number>();
/** The signals this install listens for (not those ignored at the time). */
let listened: ExitSignal[] = [];

/** The signals whose default action ends the process, with their numbers. */
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type ExitSignal = keyof typeof SIGNALS;

/** Runs every removal once (each at most once), then uninstalls. */
function removeAll(): void {
  const all = [...removals.values()];
  removals.clear();
  uninstall();
  for (const remove of all) {
    try {
      remove();
    } catch {
      // Best effort: the object may be gone already (another process
      // removed it); the others must still go.
    }
  }
}

const onExit = (): void => removeAll();

/**
 * Deno ends on an uncaught error or rejection unless a listener prevents
 * it, or the program has a node:process listener for it (which Deno's
 * node:process handles without marking the event).
 */
const onFatal = (event: Event): void => {
  if (event.defaultPrevented) return;
  const handledBy = event.type === "error"
    ? "uncaughtException"
    : "unhandledRejection";
  if (process.listenerCount(handledBy) > 0) return;
  removeAll();
};

const onSignal: Record<ExitSignal, () => void> = {
  SIGHUP: () => signalled("SIGHUP"),
  SIGINT: () => signalled("SIGINT"),
  SIGTERM: () => signalled("SIGTERM"),
};

/**
 * A signal whose default action ends the process: when no other listener
 * (`process.on`) handles it, remove the temporaries and let the default
 * happen (the listener gone, the signal raised again: the process ends by
 * it, as its parent expects).
 */
function signalled(signal: ExitSignal): void {
  // The program handles it: its process.on() listener, or one it claimed.
  if (process.listenerCount(signal) > 1) return;
  if ((claimed.get(signal) ?? 0) > 0) return;
  removeAll();
  process.kill(process.pid, signal);
}

interface GlobalEvents {
  addEventListener?(type: string, listener: (event: Event) => void): void;
  removeEventListener?(type: string, listener: (event: Event) => void): void;
}

const SIG_IGN = 1n;

/**
 * Whether `signal` is ignored (SIG_IGN, as `nohup` leaves SIGHUP): such a
 * signal ends nothing, and a listener would take its place (removing the
 * listener later would not put SIG_IGN back). Deno installs handlers for
 * SIGHUP, SIGINT and SIGTERM itself as soon as a program listens for any
 * signal (then nothing is ignored any more, whatever ipckit does).
 */
function ignored(signal: ExitSignal): boolean {
  const old = new BigUint64Array(32); // struct sigaction: the handler first
  try {
    return libc().sigaction(SIGNALS[signal], null, old) === 0 &&
      old[0] === SIG_IGN;
  } catch {
    return false;
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  try {
    process.on("exit", onExit);
    const all = Object.keys(SIGNALS) as ExitSignal[];
    listened = all.filter((signal) => !ignored(signal));
    for (const signal of listened) process.on(signal, onSignal[signal]);
    // A runtime that took over an ignored signal meanwhile (Deno does, for
    // SIGHUP) made it end the process: then it is listened for too.
    for (const signal of all) {
      if (!listened.includes(signal) && !ignored(signal)) {
        listened.push(signal);
        process.on(signal, onSignal[signal]);
      }
    }
  } catch {
    // No signal listeners here (a worker, say): the exit hook may be all.
  }
  const target = globalThis as GlobalEvents;
  target.addEventListener?.("error", onFatal);
  target.addEventListener?.("unhandledrejection", onFatal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("exit", onExit);
  for (const signal of listened) process.off(signal, onSignal[signal]);
  listened = [];
  const target = globalThis as GlobalEvents;
  target.removeEventListener?.("error", onFatal);
  target.removeEventListener?.("unhandledrejection", onFatal);
}

/**
 * Removes an object when the process ends, unless the returned function is
 * called first (when the object's handle removes it itself, on close). This
 * is what makes `temporary()` objects go on every exit that JavaScript
 * sees: the end of the program, `process.exit()`, `Deno.exit()`, an
 * uncaught error or rejection, and SIGINT, SIGTERM or SIGHUP.
 *
 * The signals are handled only while an object is registered, and only when
 * the program has no `process.on()` listener of its own for that signal:
 * then the objects are removed and the signal is raised again, so the
 * process ends by it as it would have. With a listener of its own, the
 * program decides; if it exits, the objects go then. Listeners that
 * `process.listenerCount()` does not see (Deno's `Deno.addSignalListener`,
 * a native handler) must be announced with {@linkcode claimSignal}. A
 * signal ignored when the first object is registered (SIGHUP under
 * `nohup`) stays ignored (under Bun: Deno handles SIGHUP itself once a
 * program listens for any signal). SIGKILL, and a crash of the runtime, leave the
 * objects behind; `ipckit ls` lists them and `ipckit rm` removes them.
 *
 * @example Removing a named object at exit unless it was removed before
 * ```ts
 * import { removeAtExit } from "@ipckit/ipc/ffi";
 * import { SharedMemory } from "@ipckit/ipc/shm";
 *
 * // An object that outlives its handle, for other processes to open:
 * const name = `/ipckit_doc_${crypto.randomUUID()}`;
 * SharedMemory.open(name, { create: true, size: 4096 }).close();
 * const forget = removeAtExit(() => SharedMemory.unlink(name));
 * // ... later, removed by the program itself:
 * SharedMemory.unlink(name);
 * forget();
 * ```
 *
 * @param remove Removes the object (synchronously; errors are ignored).
 * @returns A function that forgets the removal (idempotent).
 */
export function removeAtExit(remove: () => void): () => void {
  if (typeof remove !== "function") {
    throw new TypeError("remove must be a function");
  }
  const id = nextId++;
  removals.set(id, remove);
  install();
  return () => {
    if (removals.delete(id) && removals.size === 0) uninstallSoon();
  };
}

let uninstalling = false;

/**
 * Uninstalls once the current job is done, if nothing was registered
 * meanwhile: a loop that makes and closes temporaries installs once.
 * (Meanwhile a signal still has its default effect: nothing to remove,
 * then the signal raised again.)
 */
function uninstallSoon(): void {
  if (uninstalling) return;
  uninstalling = true;
  queueMicrotask(() => {
    uninstalling = false;
    if (removals.size === 0) uninstall();
  });
}

/**
 * How many objects {@linkcode removeAtExit} would remove now.
 *
 * @example
 * ```ts
 * import { pendingExitRemovals, removeAtExit } from "@ipckit/ipc/ffi";
 *
 * const forget = removeAtExit(() => {});
 * console.log(pendingExitRemovals()); // 1
 * forget();
 * console.log(pendingExitRemovals()); // 0
 * ```
 *
 * @returns The number of registered removals.
 */
export function pendingExitRemovals(): number {
  return removals.size;
}

/**
 * Tells {@linkcode removeAtExit} that the program itself handles `signal`
 * by a means `process.listenerCount()` does not see (`Deno.addSignalListener`,
 * a native handler such as ipckit's signal module installs): then that
 * signal no longer removes the temporaries and ends the process; the
 * program decides, and the objects go when it exits. Claims nest: each
 * returned function releases one (idempotent).
 *
 * @example Handling SIGTERM with Deno's own API beside a temporary queue
 * ```ts
 * import { claimSignal } from "@ipckit/ipc/ffi";
 *
 * const release = claimSignal("SIGTERM");
 * // Deno.addSignalListener("SIGTERM", () => { ...; Deno.exit(0); });
 * release();
 * ```
 *
 * @param signal `"SIGINT"`, `"SIGTERM"` or `"SIGHUP"` (other signals do
 *   not concern the removal at exit; they are accepted and have no effect).
 * @returns A function that releases the claim.
 */
export function claimSignal(signal: string): () => void {
  if (typeof signal !== "string") {
    throw new TypeError('signal must be a signal name such as "SIGTERM"');
  }
  claimed.set(signal, (claimed.get(signal) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (claimed.get(signal) ?? 1) - 1;
    if (n > 0) claimed.set(signal, n);
    else claimed.delete(signal);
  };
}
