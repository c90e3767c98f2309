// Listening for signals as an async iterator, with the sender's pid, uid and
// value. The trampoline's SA_SIGINFO handler (ffi/signal_handler.ts) turns
// every delivery into a record in a pipe; one pump reads that pipe through
// the reactor (unref'd) and fans records out to every iterator that listens
// for the signal. Where the handler cannot load, the runtime's own listener
// stands in, without pid, uid or value.
import {
  checkOptions,
  checkSignal,
  claimSignal,
  describeValue,
  IpcError,
  libc,
  type NativeSignalHandler,
  nativeSignalHandler,
  SIGNAL_RECORD_SIZE,
  startTimer,
  sys,
  trySys,
  waitForDescriptor,
} from "../ffi/mod.ts";
import { onSelfSignal } from "./_self.ts";
import { type SignalId, signalName, signalNumber } from "./signal_number.ts";

/** One delivery of a signal, as {@linkcode signals} yields it. */
export interface SignalDelivery {
  /** The signal's name: `"SIGUSR1"`, `"SIGRTMIN+1"`. */
  readonly signal: string;
  /** The signal's number. */
  readonly number: number;
  /**
   * The sender's process id (`si_pid`; 0 when the kernel sent it), or
   * `undefined` where ipckit fell back to the runtime's listener.
   */
  readonly pid: number | undefined;
  /** The sender's real user id (`si_uid`), or `undefined` (fallback). */
  readonly uid: number | undefined;
  /**
   * The value sent with `sigqueue(3)` (`si_value.sival_int`), or
   * `undefined` when the signal carried none (sent by `kill(2)`) or in the
   * fallback.
   */
  readonly value: number | undefined;
  /**
   * How the signal was sent (`si_code`: 0 `SI_USER` for kill, -1
   * `SI_QUEUE` for sigqueue, -6 `SI_TKILL`, 128 `SI_KERNEL`), or
   * `undefined` (fallback).
   */
  readonly code: number | undefined;
  /**
   * How many deliveries of this signal were lost just before this one,
   * because they came faster than the process read them (normally 0).
   */
  readonly lost: number;
}

/** Options of {@linkcode signals}. */
export interface SignalsOptions {
  /**
   * Ends the iteration: a pending `next()` rejects with the signal's reason
   * and the previous dispositions are restored.
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
}

/**
 * The iterator {@linkcode signals} returns: an async iterator of
 * deliveries that is also disposable (`using`, `await using`).
 */
export interface SignalIterator
  extends AsyncIterableIterator<SignalDelivery>, Disposable, AsyncDisposable {
  /**
   * Stops listening (as `return()` does): pending `next()` calls end with
   * `done`, and each signal's previous disposition is restored once no
   * other iterator listens for it. Idempotent.
   */
  close(): void;
  /** Whether the iterator has ended (closed, returned or aborted). */
  readonly closed: boolean;
  /**
   * Every delivery lost so far: deliveries that came faster than they were
   * read (each also counted in the `lost` of the next delivery that came
   * through).
   */
  readonly lost: number;
  /**
   * `"native"`: ipckit's own handler, with pid, uid and value.
   * `"runtime"`: the runtime's listener stands in (the native handler
   * could not load), without them.
   */
  readonly mode: "native" | "runtime";
}

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_SETPIPE_SZ = 1031;
const PIPE_BYTES = 1 << 20;
const SI_QUEUE = -1;
const SI_TIMER = -2;
const SI_MESGQ = -3;
const SIGUSR1 = 10;
/** Deliveries an iterator holds unread before counting more as lost. */
const QUEUE_LIMIT = 65536;
/** How often the handler is checked to still be in place. */
const CHECK_MS = 200;
/** How often a signal no longer listened for is checked to be settled. */
const SETTLE_MS = 10;
/** How long a runtime listener is kept at most for a delivery passed on. */
const SETTLE_LIMIT_MS = 2000;
const UNLISTENABLE: Readonly<Record<number, string>> = {
  4: "SIGILL is a fault the runtime handles",
  7: "SIGBUS is a fault the runtime handles",
  8: "SIGFPE is a fault the runtime handles",
  9: "SIGKILL cannot be caught",
  11: "SIGSEGV is a fault the runtime handles",
  19: "SIGSTOP cannot be caught",
};

interface RuntimeSignals {
  Deno?: {
    addSignalListener(signal: string, handler: () => void): void;
    removeSignalListener(signal: string, handler: () => void): void;
  };
  process?: {
    on(signal: string, handler: () => void): unknown;
    off(signal: string, handler: () => void): unknown;
  };
}

/** Adds a runtime signal listener; returns its removal, or undefined. */
function runtimeListen(
  name: string,
  listener: () => void,
): (() => void) | undefined {
  const g = globalThis as RuntimeSignals;
  try {
    const deno = g.Deno;
    if (deno !== undefined && typeof deno.addSignalListener === "function") {
      deno.addSignalListener(name, listener);
      return () => deno.removeSignalListener(name, listener);
    }
    const process = g.process;
    if (process !== undefined && typeof process.on === "function") {
      process.on(name, listener);
      return () => void process.off(name, listener);
    }
  } catch {
    // a signal the runtime does not let programs listen for
  }
  return undefined;
}

/** What is installed for one signal, and who listens. */
interface Listening {
  readonly iterators: Set<Subscription>;
  /** Removes the runtime listener added beside (or instead of) ours. */
  readonly removeRuntime: (() => void) | undefined;
  /** Whether the runtime's listener, called through the chain, reads. */
  readonly doorbell: boolean;
  /**
   * Whether deliveries are passed on to the runtime's handler one at a
   * time, each acknowledged by its listener (Deno: see stopListening).
   */
  readonly gated: boolean;
  /** Calls of the runtime listener so far (a gate stuck shut is opened). */
  rings: number;
  /** `rings` at the last check that found the gate shut. */
  ringsAtCheck: number;
  /** Releases the claim that keeps removeAtExit() off this signal. */
  readonly release: () => void;
}

/** A signal no longer listened for whose runtime listener is kept a while. */
interface Settling {
  readonly number: number;
  readonly since: number;
  readonly finish: () => void;
}

const listening = new Map<number, Listening>();
let handler: NativeSignalHandler | null | undefined;
let pipeRead = -1;
let pumping = false;
let pumpAbort: AbortController | undefined;
let cancelCheck: (() => void) | undefined;
let warned = false;

function nativeHandler(): NativeSignalHandler | null {
  handler ??= nativeSignalHandler() ?? null;
  if (handler === null && !warned) {
    warned = true;
    console.warn(
      "ipckit signals(): the native signal handler could not load (no errno-safe trampoline here); " +
        "using the runtime's own listeners, so pid, uid and value are undefined",
    );
  }
  return handler;
}

/** The handler's pipe: made once, kept for the life of the process. */
function ensurePipe(h: NativeSignalHandler): void {
  if (pipeRead >= 0) return;
  const fds = new Int32Array(2);
  sys(() => libc().pipe2(fds, O_NONBLOCK | O_CLOEXEC), {
    syscall: "pipe2",
    action: "make the signal pipe",
  });
  // Room for 32768 records where the limit allows; 4096 otherwise.
  libc().fcntl(fds[1]!, F_SETPIPE_SZ, PIPE_BYTES);
  pipeRead = fds[0]!;
  // The write end belongs to the handler for good: a handler running on
  // another thread may hold its number at any time, so it is never closed.
  h.setPipe(fds[1]!);
}

function startListening(number: number): Listening {
  const name = signalName(number);
  const h = nativeHandler();
  if (h === null) {
    if (number >= libc().__libc_current_sigrtmin()) {
      throw new RangeError(
        `Cannot listen for ${name}: the native signal handler could not load, and the runtime's own listeners take no real-time signals`,
      );
    }
    const removeRuntime = runtimeListen(
      name,
      () => dispatch(number, undefined, undefined, undefined, undefined, 0),
    );
    if (removeRuntime === undefined) {
      throw new Error(
        `Cannot listen for ${name}: the native signal handler could not load and the runtime has no listener for it`,
      );
    }
    return {
      iterators: new Set(),
      removeRuntime,
      doorbell: false,
      gated: false,
      rings: 0,
      ringsAtCheck: -1,
      release: claimSignal(name),
    };
  }
  ensurePipe(h);
  // A runtime listener beside ours: the runtime installs its own handler
  // now, under ours, rather than later over it (Deno installs SIGUSR1's at
  // about 0.5 s), and its listeners keep working through the chain. Deno's
  // SIGUSR1 handler opens the inspector, so ours never chains to it.
  // Called through the chain, that listener is also the fastest doorbell
  // (the runtime's own wake-up): it reads the records at once. Signals
  // without one (real-time signals, Deno's SIGUSR1) need a reader on the
  // pipe.
  // Under Deno each delivery passed on is acknowledged by that listener
  // before the next is passed on ("gated"), so that stopListening() can
  // tell when Deno has handled them all. Each listening gets a listener of
  // its own: one kept for a past listening (stopListening) is removed alone.
  const deno = (globalThis as RuntimeSignals).Deno !== undefined;
  const chain = !(number === SIGUSR1 && deno);
  let gated = false;
  const ring = (): void => {
    entry.rings++;
    if (gated) h.acknowledge(number);
    doorbell();
    settle();
  };
  const removeRuntime = runtimeListen(name, ring);
  const doorbellFor = removeRuntime !== undefined && chain &&
    number < libc().__libc_current_sigrtmin();
  gated = doorbellFor && deno;
  const r = h.install(number, gated ? "gated" : chain);
  if (r < 0) {
    removeRuntime?.();
    throw new IpcError(-r, {
      syscall: "sigaction",
      action: `listen for ${name}`,
    });
  }
  const entry: Listening = {
    iterators: new Set(),
    removeRuntime,
    doorbell: doorbellFor,
    gated,
    rings: 0,
    ringsAtCheck: -1,
    // The program handles this signal now: ffi's removal of temporaries at
    // exit must not end the process on it (it cannot see Deno's listener).
    release: claimSignal(name),
  };
  return entry;
}

/**
 * Stops listening for a signal: restores the disposition ipckit's handler
 * replaced, then removes the runtime listener added beside it.
 *
 * Under Deno that removal waits, when needed, until Deno has handled every
 * delivery ipckit's handler passed on. Deno takes a delivery in two steps:
 * its handler only marks the signal, and a thread of its own later calls
 * the listeners, or, when none is left, applies the default action
 * (SIGTERM, SIGINT and SIGHUP end the process). ipckit may read the
 * delivery's record first (through the pipe reader, the periodic check,
 * or at once when the process signalled itself), and the program may stop
 * listening in reaction: removing the listener before Deno's thread came
 * to that delivery would end the process by a signal the program handled.
 * With gated chaining at most one delivery passed on is unacknowledged, so
 * the listener's next call proves Deno has handled them all.
 */
function stopListening(number: number, entry: Listening): void {
  listening.delete(number);
  if (handler) {
    handler.restore(number);
    handler.takeLost(number);
  }
  const finish = (): void => {
    entry.removeRuntime?.();
    entry.release();
  };
  if (entry.gated && handler && handler.unsettled(number) !== 0) {
    settling.push({ number, since: performance.now(), finish });
    settle();
  } else {
    finish();
  }
  updateReaders();
}

const settling: Settling[] = [];
let cancelSettle: (() => void) | undefined;

/**
 * Removes the runtime listeners of signals no longer listened for once
 * nothing ipckit's handler passed on can still reach Deno's thread (or
 * after SETTLE_LIMIT_MS: a handler that is not Deno's, which never calls
 * the listener); checks again soon while some are left.
 */
function settle(): void {
  const now = performance.now();
  for (let i = settling.length - 1; i >= 0; i--) {
    const s = settling[i]!;
    if (
      handler?.unsettled(s.number) === 0 || now - s.since > SETTLE_LIMIT_MS
    ) {
      settling.splice(i, 1);
      s.finish();
    }
  }
  if (settling.length === 0) {
    cancelSettle?.();
    cancelSettle = undefined;
  } else if (cancelSettle === undefined) {
    // Ref'd: a Deno program ending now drops its listeners, and Deno's
    // thread would then end the process by the delivery it still holds.
    cancelSettle = startTimer(SETTLE_MS, () => {
      cancelSettle = undefined;
      settle();
    });
  }
}

/** Whether a listened-for signal has no doorbell, so the pipe needs a reader. */
function needsReader(): boolean {
  for (const entry of listening.values()) if (!entry.doorbell) return true;
  return false;
}

/**
 * Starts or stops what reads the pipe, after a change in what is listened
 * for: the check that ipckit's handler is still in place (which also reads
 * whatever a doorbell may have missed), and a reader for signals without a
 * doorbell.
 */
function updateReaders(): void {
  if (!handler) return;
  if (listening.size === 0) {
    cancelCheck?.();
    cancelCheck = undefined;
  } else if (cancelCheck === undefined) {
    const check = () => {
      for (const [number, entry] of listening) {
        handler?.check(number);
        // A gate still shut since the last check, with no listener call
        // since: the handler passed on to is not one that calls the
        // runtime's listener (it was replaced): open it.
        if (entry.gated && (handler?.unsettled(number) ?? 0) & 1) {
          if (entry.ringsAtCheck === entry.rings) {
            handler?.acknowledge(number);
            entry.ringsAtCheck = -1;
          } else {
            entry.ringsAtCheck = entry.rings;
          }
        } else {
          entry.ringsAtCheck = -1;
        }
      }
      doorbell();
      cancelCheck = listening.size > 0
        ? startTimer(CHECK_MS, check, true)
        : undefined;
    };
    cancelCheck = startTimer(CHECK_MS, check, true);
  }
  const need = needsReader();
  if ((globalThis as RuntimeSignals).Deno !== undefined) {
    // Deno cannot let a pending FFI call go (the reactor serves unref'd
    // waits only while a ref'd one runs), but its node:net socket over the
    // pipe reads natively and can be unref'd. Made once, like the pipe;
    // paused while every signal has a doorbell.
    if (!need) socket?.pause();
    else if (socket !== undefined) socket.resume();
    else if (!pumping) {
      pumping = true;
      void readNatively();
    }
    return;
  }
  if (!need) {
    pumpAbort?.abort();
  } else if (!pumping) {
    pumping = true;
    void pump().finally(() => {
      pumping = false;
    });
  }
}

interface NativeSocket {
  on(event: string, listener: (value: never) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  unref(): unknown;
}

interface NodeNet {
  Socket: new (options: {
    fd: number;
    readable: boolean;
    writable: boolean;
  }) => NativeSocket;
}

let socket: NativeSocket | undefined;

async function readNatively(): Promise<void> {
  let rest = new Uint8Array(0);
  try {
    const net = await import("node:net") as unknown as NodeNet;
    const s = new net.Socket({ fd: pipeRead, readable: true, writable: false });
    s.on("data", (chunk: Uint8Array) => {
      let bytes = chunk;
      if (rest.length > 0) {
        bytes = new Uint8Array(rest.length + chunk.length);
        bytes.set(rest);
        bytes.set(chunk, rest.length);
      }
      const whole = bytes.length - bytes.length % SIGNAL_RECORD_SIZE;
      deliver(
        new DataView(bytes.buffer, bytes.byteOffset, whole),
        whole / SIGNAL_RECORD_SIZE,
      );
      rest = bytes.slice(whole);
      sweepLost();
    });
    s.on("error", (error: unknown) => failAll(error));
    s.unref();
    socket = s;
    if (!needsReader()) s.pause();
  } catch (error) {
    failAll(error);
  } finally {
    pumping = false;
  }
}

onSelfSignal(doorbell);

/** The runtime's listener saw a signal: read the records now. */
function doorbell(): void {
  if (listening.size === 0 || pipeRead < 0) return;
  try {
    drain();
  } catch (error) {
    failAll(error);
  }
}

async function pump(): Promise<void> {
  while (needsReader()) {
    try {
      drain();
    } catch (error) {
      failAll(error);
      return;
    }
    if (!needsReader()) return;
    const abort = pumpAbort = new AbortController();
    try {
      await waitForDescriptor(pipeRead, "read", {
        unref: true,
        signal: abort.signal,
      });
    } catch (error) {
      if (!abort.signal.aborted) {
        failAll(error);
        return;
      }
    }
  }
}

const records = new Uint8Array(512 * SIGNAL_RECORD_SIZE);
const recordView = new DataView(records.buffer);

function drain(): void {
  for (;;) {
    const n = trySys(
      () => libc().read(pipeRead, records, records.byteLength),
      { syscall: "read", action: "read signal deliveries" },
    );
    if (n === undefined || n === 0) break;
    deliver(recordView, Math.floor(n / SIGNAL_RECORD_SIZE));
    if (n < records.byteLength) break;
  }
  sweepLost(); // the pipe is empty now
}

/** Hands `count` records at the start of `view` to their iterators. */
function deliver(view: DataView, count: number): void {
  for (let i = 0; i < count; i++) {
    const at = i * SIGNAL_RECORD_SIZE;
    const code = view.getInt32(at + 4, true);
    const carries = code === SI_QUEUE || code === SI_TIMER ||
      code === SI_MESGQ;
    dispatch(
      view.getInt32(at, true),
      code,
      view.getInt32(at + 8, true),
      view.getUint32(at + 12, true),
      carries ? view.getInt32(at + 16, true) : undefined,
      view.getInt32(at + 20, true),
    );
  }
}

/**
 * Counts losses no record reported (nothing came through after them yet),
 * once the pipe is read empty.
 */
function sweepLost(): void {
  if (!handler) return;
  for (const [number, entry] of listening) {
    const lost = handler.takeLost(number);
    if (lost > 0) { for (const s of entry.iterators) s.addLost(lost); }
  }
}

function dispatch(
  number: number,
  code: number | undefined,
  pid: number | undefined,
  uid: number | undefined,
  value: number | undefined,
  lost: number,
): void {
  const entry = listening.get(number);
  if (entry === undefined) return; // a signal no longer listened for
  const delivery: SignalDelivery = {
    signal: signalName(number),
    number,
    pid,
    uid,
    value,
    code,
    lost,
  };
  for (const s of entry.iterators) s.push(delivery);
}

function failAll(error: unknown): void {
  for (const entry of [...listening.values()]) {
    for (const s of [...entry.iterators]) s.fail(error);
  }
}

interface Waiter {
  resolve(result: IteratorResult<SignalDelivery>): void;
  reject(reason: unknown): void;
}

class Subscription implements SignalIterator {
  readonly mode: "native" | "runtime";
  readonly #numbers: readonly number[];
  readonly #queue: SignalDelivery[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.fail(this.#signal!.reason);
  #lost = 0;
  #overflow = 0;
  #closed = false;
  #error: { reason: unknown } | undefined;

  constructor(numbers: readonly number[], signal: AbortSignal | undefined) {
    this.#numbers = numbers;
    this.#signal = signal;
    const added: number[] = [];
    try {
      for (const number of numbers) {
        let entry = listening.get(number);
        if (entry === undefined) {
          entry = startListening(number);
          listening.set(number, entry);
        }
        entry.iterators.add(this);
        added.push(number);
      }
    } catch (error) {
      this.#leave(added);
      throw error;
    }
    this.mode = nativeHandler() === null ? "runtime" : "native";
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    updateReaders();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get lost(): number {
    return this.#lost;
  }

  push(delivery: SignalDelivery): void {
    if (this.#closed) return;
    this.#lost += delivery.lost;
    const waiter = this.#waiters.shift();
    if (this.#overflow > 0) {
      delivery = { ...delivery, lost: delivery.lost + this.#overflow };
      this.#overflow = 0;
    }
    if (waiter !== undefined) {
      waiter.resolve({ value: delivery, done: false });
    } else if (this.#queue.length < QUEUE_LIMIT) {
      this.#queue.push(delivery);
    } else {
      this.#lost += 1;
      this.#overflow += 1 + delivery.lost;
    }
  }

  addLost(count: number): void {
    this.#lost += count;
    this.#overflow += count;
  }

  fail(reason: unknown): void {
    if (this.#closed) return;
    this.#error = { reason };
    this.#end();
  }

  next(): Promise<IteratorResult<SignalDelivery>> {
    const delivery = this.#queue.shift();
    if (delivery !== undefined) {
      return Promise.resolve({ value: delivery, done: false });
    }
    if (this.#error !== undefined) {
      const { reason } = this.#error;
      this.#error = undefined;
      return Promise.reject(reason);
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) =>
      this.#waiters.push({ resolve, reject })
    );
  }

  return(): Promise<IteratorResult<SignalDelivery>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    if (this.#closed) return;
    this.#queue.length = 0;
    this.#end();
  }

  #end(): void {
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#leave(this.#numbers);
    const error = this.#error;
    for (const w of this.#waiters.splice(0)) {
      if (error !== undefined) {
        this.#error = undefined;
        w.reject(error.reason);
      } else {
        w.resolve({ value: undefined, done: true });
      }
    }
  }

  #leave(numbers: readonly number[]): void {
    for (const number of numbers) {
      const entry = listening.get(number);
      if (entry === undefined || !entry.iterators.delete(this)) continue;
      if (entry.iterators.size === 0) stopListening(number, entry);
    }
  }

  [Symbol.asyncIterator](): SignalIterator {
    return this;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Listens for signals: an async iterator of every delivery, with the
 * sender's pid and uid and the value it queued (`sigqueue(3)`), which no
 * runtime's own signal API gives. See signal(7), sigaction(2).
 *
 * ipckit installs one small native `SA_SIGINFO` handler (from its
 * errno-safe trampoline) for the signals listened for, as soon as this
 * returns. The handler only writes a record into a pipe (never blocking,
 * errno untouched); one reader, waiting through the reactor, hands the
 * records to every iterator listening for that signal.
 *
 * - Every real-time signal queued is yielded exactly once, with its value.
 *   The order is not promised: the runtimes run several threads, and the
 *   kernel may hand two deliveries to two of them at once. Classic signals
 *   (`SIGUSR1`, ...) coalesce in the kernel as always: several sent before
 *   one is delivered arrive once.
 * - Ending the iteration (`break`, `return()`, `close()`, `using`) or
 *   aborting it restores the previous disposition once no other iterator
 *   listens for the signal.
 * - Listeners added through `Deno.addSignalListener` or `process.on` keep
 *   working beside it: ipckit's handler calls the runtime's after its own
 *   (except Deno's `SIGUSR1` handler, which would open the inspector).
 * - It does not keep the process alive by itself.
 * - Deliveries that come faster than they are read are counted
 *   (`lost` on the next delivery, and on the iterator), never dropped
 *   silently.
 * - Where the native handler cannot load (no errno-safe trampoline:
 *   memfds that may not execute, a path-scoped `--allow-ffi`), it says so
 *   once with `console.warn` and uses the runtime's own listener, with
 *   `pid`, `uid`, `value` and `code` undefined (`mode` is `"runtime"`).
 *
 * @example Waiting for SIGUSR2 with the sender's pid
 * ```ts
 * import { sendSignal, signals } from "@ipckit/ipc/signal";
 *
 * using deliveries = signals(["SIGUSR2"]);
 * sendSignal(process.pid, "SIGUSR2");
 * const { value } = await deliveries.next();
 * console.log(value?.signal, value?.pid === process.pid); // SIGUSR2 true
 * ```
 *
 * @param which The signals, by name (`"SIGTERM"`, `"SIGRTMIN+3"`) or
 *   number.
 * @param options An `AbortSignal` that ends the iteration.
 * @returns The iterator, already listening.
 * @throws {TypeError} For an unknown signal name or arguments of the wrong
 *   type.
 * @throws {RangeError} For a signal that cannot be listened for (`SIGKILL`,
 *   `SIGSTOP`, the faults `SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, and the
 *   two glibc keeps, 32 and 33), or an empty list.
 * @throws {IpcError} When `sigaction` fails.
 * @throws {unknown} The abort signal's reason when it has already aborted.
 */
export function signals(
  which: readonly SignalId[],
  options?: SignalsOptions,
): SignalIterator {
  if (!Array.isArray(which)) {
    throw new TypeError(
      `signals() takes an array of signal names or numbers, got ${
        describeValue(which)
      }`,
    );
  }
  if (which.length === 0) {
    throw new RangeError("signals() needs at least one signal to listen for");
  }
  const numbers = [...new Set(which.map((s) => signalNumber(s)))];
  for (const number of numbers) {
    const why = UNLISTENABLE[number];
    if (why !== undefined) {
      throw new RangeError(`Cannot listen for ${signalName(number)}: ${why}`);
    }
    if (signalName(number) === `SIG${number}`) {
      throw new RangeError(
        `Cannot listen for signal ${number}: glibc keeps it for its own use`,
      );
    }
  }
  const signal = checkSignal(checkOptions(options).signal);
  if (signal?.aborted) throw signal.reason;
  return new Subscription(numbers, signal);
}
