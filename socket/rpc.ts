// RPC over framed messages: RpcServer serves named handlers on any number of
// connections, RpcClient calls them with request ids, many calls at once on
// one connection, with per-call timeouts and cancellation.
import {
  checkOptions,
  checkSignal,
  checkTimeout,
  closedError,
  MAX_TIMER_MS,
  timeoutError,
} from "../ffi/mod.ts";
import {
  type FramedByteStream,
  FramedConnection,
  type FramedOptions,
} from "./framed.ts";
import {
  decodeMessage,
  encodeMessage,
  errorBody,
  type WireErr,
  type WireErrorBody,
  WireFormatError,
  type WireMessage,
} from "./_rpc_wire.ts";

/** What a handler learns about the call it serves. */
export interface RpcCallContext {
  /** The method called. */
  readonly method: string;
  /** The call's id on its connection. */
  readonly id: number;
  /**
   * Aborted when the client gives up on the call (its timeout or signal),
   * when the connection ends, or when the server closes.
   */
  readonly signal: AbortSignal;
}

/**
 * A handler: takes the call's params (JSON values, with `Uint8Array`
 * anywhere inside) and returns, or resolves to, the result; what it throws
 * reaches the client as an {@linkcode RpcError} with the same name, message
 * and `code`.
 */
// deno-lint-ignore no-explicit-any
export type RpcHandler = (params: any, context: RpcCallContext) => unknown;

/** Named handlers, as given to {@linkcode RpcServer}. */
export type RpcHandlers = Record<string, RpcHandler>;

/** The method names of a handler map `T`. */
export type RpcMethod<T> = Extract<keyof T, string>;

/** The params type of method `M` of a handler map `T`. */
export type RpcParams<T, M extends keyof T> = T[M] extends (
  params: infer P,
  // deno-lint-ignore no-explicit-any
  ...rest: any[]
) => unknown ? P
  : unknown;

/** The result type of method `M` of a handler map `T`. */
export type RpcResult<T, M extends keyof T> = T[M] extends (
  // deno-lint-ignore no-explicit-any
  ...args: any[]
) => infer R ? Awaited<R>
  : unknown;

/** Options of {@linkcode RpcServer}. */
export interface RpcServerOptions extends FramedOptions {
  /**
   * Called with what ended a connection other than a clean close: a
   * broken frame, a malformed message, a reset. The connection is closed
   * either way; `serve()` always resolves.
   * @default {ignore it}
   */
  onConnectionError?: (error: unknown) => void;
}

/** Options of {@linkcode RpcClient}. */
export interface RpcClientOptions extends FramedOptions {
  /**
   * The timeout of calls that give none, in ms.
   * @default {no limit}
   */
  timeout?: number;
}

/** Options of one {@linkcode RpcClient.call}. */
export interface RpcCallOptions {
  /**
   * Gives up on the call when aborted: it rejects with the signal's reason
   * and the server's handler sees its own `signal` abort.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds before the call rejects with a `TimeoutError`
   * `DOMException` (the server's handler is told to stop).
   * @default {the client's `timeout`}
   */
  timeout?: number;
}

/** The code of the error for a method the server does not have. */
export const RPC_UNKNOWN_METHOD = "ERR_RPC_UNKNOWN_METHOD";

/**
 * An error from the other side of an RPC connection. For an error a handler
 * threw, `name`, `message` and `code` are the thrown error's (so a
 * `TypeError` thrown on the server has `name` `"TypeError"` here), and
 * `data` its `data` property, when it had JSON-able ones. The client's own
 * errors have `name` `"RpcError"` and a code:
 *
 * - `"ERR_RPC_UNKNOWN_METHOD"`: the server has no such method;
 * - `"ECONNRESET"`: the connection ended (the peer closed or died, or sent
 *   something that is not RPC) before the reply came;
 * - `"ECONNABORTED"`: this side closed the client while the call ran;
 * - `"EMSGSIZE"`: the server's reply was over the size limit.
 *
 * @example Branching on a remote error's code
 * ```ts
 * import { RpcError } from "@ipckit/ipc/socket";
 *
 * const error = new RpcError("No such user", { name: "LookupError", code: "ENOUSER", method: "user" });
 * console.log(error instanceof RpcError, error.name, error.code); // true LookupError ENOUSER
 * ```
 */
export class RpcError extends Error {
  /** The error's code, when it has one. */
  readonly code?: string;
  /** The method called. */
  readonly method: string;
  /** The remote error's `data`, when it had one. */
  readonly data?: unknown;

  /**
   * Makes the error.
   *
   * @param message The message.
   * @param options Its name (default `"RpcError"`), code, method and data.
   */
  constructor(
    message: string,
    options: {
      name?: string;
      code?: string;
      method: string;
      data?: unknown;
      cause?: unknown;
    },
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = options.name ?? "RpcError";
    if (options.code !== undefined) this.code = options.code;
    this.method = options.method;
    if (options.data !== undefined) this.data = options.data;
  }
}

const immediate = (globalThis as {
  setImmediate?: (callback: () => void) => unknown;
}).setImmediate;

/**
 * The next frame, asked for once the event loop has run what is queued: a
 * socket read may spin (blocking the loop for up to its `spin` µs) before it
 * parks, and the call or reply the program is about to send must not wait
 * behind it. (An RPC round trip measured 200 µs where the read started
 * first, 20-30 µs this way.)
 */
async function nextFrame(
  framed: FramedConnection,
): Promise<Uint8Array | undefined> {
  await new Promise<void>((resolve) =>
    immediate === undefined ? setTimeout(resolve, 0) : immediate(resolve)
  );
  return await framed.receive();
}

function toFramed(
  conn: FramedConnection | FramedByteStream,
  options: FramedOptions,
): FramedConnection {
  if (conn instanceof FramedConnection) return conn;
  const framedOptions: FramedOptions = {};
  if (options.maxMessageSize !== undefined) {
    framedOptions.maxMessageSize = options.maxMessageSize;
  }
  return new FramedConnection(conn, framedOptions);
}

/**
 * Serves named handlers over RPC connections: hand it each connection
 * (`serve(conn)`), a stream socket of this module over Unix or TCP, or any
 * `{ readable, writable }` byte stream. Calls on one connection run
 * concurrently and their replies go back as each finishes.
 *
 * Values travel as JSON, with `Uint8Array` anywhere inside carried as raw
 * bytes (`undefined` results arrive as `undefined`; `Date` arrives as its
 * ISO string; other typed arrays, `Map`, `Set` and `BigInt` are not
 * supported).
 *
 * @example A server and a client over a Unix socket
 * ```ts
 * import { connect, listen, RpcClient, RpcServer } from "@ipckit/ipc/socket";
 *
 * const handlers = {
 *   add: ([a, b]: [number, number]) => a + b,
 *   upper: (text: string) => text.toUpperCase(),
 * };
 * const path = `/tmp/ipckit-rpc-doc-${Date.now()}.sock`;
 * await using listener = await listen({ path });
 * await using server = new RpcServer(handlers);
 * (async () => {
 *   for await (const conn of listener) server.serve(conn);
 * })();
 *
 * await using client = new RpcClient<typeof handlers>(await connect({ path }));
 * console.log(await client.call("add", [2, 3])); // 5
 * console.log(await client.call("upper", "hi", { timeout: 1000 })); // HI
 * ```
 */
export class RpcServer implements AsyncDisposable, Disposable {
  readonly #handlers: RpcHandlers;
  readonly #options: FramedOptions;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #connections = new Map<FramedConnection, Promise<void>>();
  #closed = false;

  /**
   * Makes a server of `handlers` (their own enumerable properties; nothing
   * inherited is callable).
   *
   * @param handlers The methods, by name.
   * @param options Message size limit and connection error callback.
   * @throws {TypeError} When a handler is not a function.
   */
  constructor(handlers: RpcHandlers, options?: RpcServerOptions) {
    if (handlers === null || typeof handlers !== "object") {
      throw new TypeError("handlers must be an object of functions");
    }
    const own: RpcHandlers = Object.create(null);
    for (const [name, handler] of Object.entries(handlers)) {
      if (typeof handler !== "function") {
        throw new TypeError(`handler "${name}" must be a function`);
      }
      own[name] = handler;
    }
    this.#handlers = own;
    const o = checkOptions(options);
    this.#options = o.maxMessageSize === undefined
      ? {}
      : { maxMessageSize: o.maxMessageSize };
    if (o.onConnectionError !== undefined) {
      if (typeof o.onConnectionError !== "function") {
        throw new TypeError("onConnectionError must be a function");
      }
    }
    this.#onError = o.onConnectionError;
  }

  /** The number of connections being served. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Serves one connection until it ends (the client closes it or dies, a
   * broken or malformed message arrives, or the server closes), then
   * closes it and aborts its running handlers. Never rejects: what broke
   * the connection goes to `onConnectionError`.
   *
   * @param conn A connection or byte stream, or one already framed.
   * @returns Resolves when the connection is done.
   * @throws {IpcError} `EBADF` (as a rejection) once the server is closed.
   */
  serve(conn: FramedConnection | FramedByteStream): Promise<void> {
    let framed: FramedConnection;
    try {
      if (this.#closed) throw closedError("RPC server", undefined, "serve");
      framed = toFramed(conn, this.#options);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = this.#serve(framed);
    this.#connections.set(framed, done);
    return done;
  }

  async #serve(framed: FramedConnection): Promise<void> {
    const running = new Map<number, AbortController>();
    try {
      for (;;) {
        const frame = await nextFrame(framed);
        if (frame === undefined) break;
        const message = decodeMessage(frame);
        if (message.t === "call") {
          if (running.has(message.id)) {
            throw new WireFormatError(`call id ${message.id} already running`);
          }
          const controller = new AbortController();
          running.set(message.id, controller);
          this.#run(framed, message.id, message.m, message.p, controller)
            .finally(() => {
              if (running.get(message.id) === controller) {
                running.delete(message.id);
              }
            });
        } else if (message.t === "cancel") {
          const controller = running.get(message.id);
          running.delete(message.id);
          controller?.abort(
            new DOMException("The client cancelled the call", "AbortError"),
          );
        } else {
          throw new WireFormatError(`unexpected "${message.t}" from a client`);
        }
      }
    } catch (error) {
      if (!framed.closed) this.#onError?.(error);
    } finally {
      const reason = new DOMException(
        "The RPC connection closed",
        "AbortError",
      );
      for (const controller of running.values()) controller.abort(reason);
      running.clear();
      await framed.close();
      this.#connections.delete(framed);
    }
  }

  /**
   * Runs one call and sends its reply. A handler that returns a plain
   * value is answered at once, before the read loop asks for the next
   * request (so the reply is not held up behind that wait).
   */
  #run(
    framed: FramedConnection,
    id: number,
    method: string,
    params: unknown,
    controller: AbortController,
  ): Promise<void> {
    const handler = this.#handlers[method];
    if (handler === undefined) {
      return this.#reply(framed, method, controller, {
        t: "err",
        id,
        e: {
          name: "RpcError",
          message: `Unknown method "${method}"`,
          code: RPC_UNKNOWN_METHOD,
        },
      });
    }
    const ok = (result: unknown): WireMessage =>
      result === undefined ? { t: "ok", id } : { t: "ok", id, r: result };
    const err = (error: unknown): WireMessage => ({
      t: "err",
      id,
      e: errorBody(error),
    });
    let result: unknown;
    try {
      result = handler(params, { method, id, signal: controller.signal });
    } catch (error) {
      return this.#reply(framed, method, controller, err(error));
    }
    if (
      result !== null &&
      (typeof result === "object" || typeof result === "function") &&
      typeof (result as { then?: unknown }).then === "function"
    ) {
      return Promise.resolve(result).then(ok, err).then((reply) =>
        this.#reply(framed, method, controller, reply)
      );
    }
    return this.#reply(framed, method, controller, ok(result));
  }

  #reply(
    framed: FramedConnection,
    method: string,
    controller: AbortController,
    reply: WireMessage,
  ): Promise<void> {
    // A call the client gave up on (or a closed connection) gets no reply.
    if (controller.signal.aborted || framed.closed) return Promise.resolve();
    let frame: Uint8Array;
    try {
      frame = encodeMessage(reply);
    } catch (error) {
      frame = encodeMessage(unserializable(reply.id, reply, error));
    }
    if (frame.byteLength > framed.maxMessageSize) {
      frame = encodeMessage({
        t: "err",
        id: reply.id,
        e: {
          name: "RpcError",
          message:
            `The reply to "${method}" is ${frame.byteLength} bytes, over maxMessageSize ${framed.maxMessageSize}`,
          code: "EMSGSIZE",
        },
      });
    }
    return framed.send(frame).catch(() => {
      // The connection broke: its read loop ends and cleans up.
    });
  }

  /**
   * Closes every connection being served (their running handlers see
   * their signal abort, and their clients' pending calls reject) and
   * refuses new ones. Idempotent.
   *
   * @returns Resolves when every connection is closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#connections];
    for (const [framed] of all) framed.close().catch(() => {});
    await Promise.all(all.map(([, done]) => done));
  }

  /** Closes, as {@linkcode RpcServer.close} does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Starts closing (see {@linkcode RpcServer.close}) without waiting. */
  [Symbol.dispose](): void {
    this.close().catch(() => {});
  }
}

function unserializable(
  id: number,
  reply: WireMessage,
  error: unknown,
): WireErr {
  if (reply.t === "err") {
    // The error's data could not be encoded: send the rest.
    const e: WireErrorBody = { name: reply.e.name, message: reply.e.message };
    if (reply.e.code !== undefined) e.code = reply.e.code;
    return { t: "err", id, e };
  }
  return {
    t: "err",
    id,
    e: {
      name: "TypeError",
      message: `The result cannot be sent as JSON: ${(error as Error).message}`,
      code: "ERR_RPC_UNSERIALIZABLE",
    },
  };
}

interface PendingCall {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Calls an {@linkcode RpcServer}'s handlers over one connection: a stream
 * socket of this module (Unix or TCP) or any `{ readable, writable }` byte
 * stream. Many calls may run at once; each has an id, and replies are
 * matched to calls whatever order they come back in.
 *
 * When the connection ends every pending call rejects with an
 * {@linkcode RpcError} (`ECONNRESET`), and later calls reject at once.
 * The client reads from its connection until closed, which keeps the
 * process alive: close it (or `await using`) when done.
 *
 * Give it the server's handler type (`new RpcClient<typeof handlers>(conn)`)
 * to have method names, params and results type-checked.
 *
 * @example Calls at once, a timeout and a remote error
 * ```ts
 * import { RpcClient, RpcError, RpcServer } from "@ipckit/ipc/socket";
 * import { socketPair } from "@ipckit/ipc/socket";
 *
 * const handlers = {
 *   sleep: (ms: number, { signal }: { signal: AbortSignal }) =>
 *     new Promise((resolve, reject) => {
 *       const timer = setTimeout(() => resolve(ms), ms);
 *       signal.addEventListener("abort", () => {
 *         clearTimeout(timer);
 *         reject(signal.reason);
 *       });
 *     }),
 *   fail: () => {
 *     throw Object.assign(new RangeError("too big"), { code: "E2BIG" });
 *   },
 * };
 * const [a, b] = socketPair("stream");
 * await using server = new RpcServer(handlers);
 * server.serve(a);
 * await using client = new RpcClient<typeof handlers>(b);
 *
 * console.log(await Promise.all([client.call("sleep", 20), client.call("sleep", 1)])); // [ 20, 1 ]
 * try {
 *   await client.call("sleep", 10_000, { timeout: 10 });
 * } catch (e) {
 *   console.log((e as Error).name); // TimeoutError
 * }
 * try {
 *   await client.call("fail");
 * } catch (e) {
 *   if (e instanceof RpcError) console.log(e.name, e.message, e.code); // RangeError too big E2BIG
 * }
 * ```
 */
export class RpcClient<T extends object = RpcHandlers>
  implements AsyncDisposable, Disposable {
  readonly #framed: FramedConnection;
  readonly #pending = new Map<number, PendingCall>();
  readonly #timeout: number | undefined;
  readonly #reading: Promise<void>;
  #nextId = 1;
  #closed = false;
  /** Why the connection ended, once it did. */
  #ended: { code: string; message: string; cause?: unknown } | undefined;

  /**
   * Starts a client on a connection; it reads replies from now on.
   *
   * @param conn A connection or byte stream, or one already framed.
   * @param options Message size limit and default timeout.
   */
  constructor(
    conn: FramedConnection | FramedByteStream,
    options?: RpcClientOptions,
  ) {
    const o = checkOptions(options);
    this.#timeout = checkTimeout(o.timeout);
    this.#framed = toFramed(conn, o);
    this.#reading = this.#read();
  }

  /** The number of calls waiting for their reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Whether the client was closed or its connection ended. */
  get closed(): boolean {
    return this.#closed || this.#ended !== undefined;
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const frame = await nextFrame(this.#framed);
        if (frame === undefined) break;
        const message = decodeMessage(frame);
        if (message.t === "ok" || message.t === "err") {
          const call = this.#pending.get(message.id);
          if (call === undefined) continue; // timed out or aborted here
          this.#pending.delete(message.id);
          if (message.t === "ok") call.resolve(message.r);
          else call.reject(remoteError(message.e, call.method));
        } else {
          throw new WireFormatError(`unexpected "${message.t}" from a server`);
        }
      }
      this.#end({
        code: "ECONNRESET",
        message: "The RPC server closed the connection",
      });
    } catch (error) {
      this.#end({
        code: "ECONNRESET",
        message: `The RPC connection broke: ${(error as Error)?.message}`,
        cause: error,
      });
    }
  }

  #end(why: { code: string; message: string; cause?: unknown }): void {
    if (this.#ended !== undefined) return;
    this.#ended = this.#closed
      ? { code: "ECONNABORTED", message: "The RPC client was closed" }
      : why;
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of calls) call.reject(this.#endError(call.method));
    if (!this.#closed) this.#framed.close().catch(() => {});
  }

  #endError(method: string): RpcError {
    const ended = this.#ended!;
    const options: {
      code: string;
      method: string;
      cause?: unknown;
    } = { code: ended.code, method };
    if (ended.cause !== undefined) options.cause = ended.cause;
    return new RpcError(
      `${ended.message} before the reply to "${method}"`,
      options,
    );
  }

  /**
   * Calls `method` with `params` and resolves with its result, or rejects
   * with what the handler threw (as an {@linkcode RpcError}), a
   * `TimeoutError`, the signal's reason, or an `RpcError` when the
   * connection ends first. A call given up on tells the server, whose
   * handler sees its signal abort.
   *
   * @param method The method's name.
   * @param params Its params: JSON values, `Uint8Array` anywhere inside.
   * @param options Signal and timeout.
   * @returns The result.
   * @throws {TypeError} When params cannot be sent as JSON.
   * @throws {RangeError} When the request is over `maxMessageSize`.
   * @throws {IpcError} `EBADF` once the client is closed.
   */
  call<M extends RpcMethod<T>>(
    method: M,
    params?: RpcParams<T, M>,
    options?: RpcCallOptions,
  ): Promise<RpcResult<T, M>> {
    let frame: Uint8Array;
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    const id = this.#nextId++;
    try {
      if (typeof method !== "string") {
        throw new TypeError("method must be a string");
      }
      const o = checkOptions(options);
      signal = checkSignal(o.signal);
      timeout = o.timeout === undefined
        ? this.#timeout
        : checkTimeout(o.timeout);
      if (this.#closed) throw closedError("RPC client", undefined, "call");
      if (this.#ended !== undefined) throw this.#endError(method);
      signal?.throwIfAborted();
      frame = encodeMessage(
        params === undefined
          ? { t: "call", id, m: method }
          : { t: "call", id, m: method, p: params },
      );
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<RpcResult<T, M>>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => giveUp(signal!.reason);
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const giveUp = (reason: unknown) => {
        if (this.#pending.get(id) !== call) return;
        this.#pending.delete(id);
        cleanup();
        reject(reason);
        if (this.#ended === undefined && !this.#closed) {
          this.#framed.send(encodeMessage({ t: "cancel", id })).catch(
            () => {},
          );
        }
      };
      const call: PendingCall = {
        method,
        resolve: (value) => {
          cleanup();
          resolve(value as RpcResult<T, M>);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      this.#pending.set(id, call);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout !== undefined) {
        const ms = timeout;
        // setTimeout fires at once beyond 2^31 - 1 ms: wait in steps.
        const arm = (left: number) => {
          timer = setTimeout(
            () =>
              left > MAX_TIMER_MS
                ? arm(left - MAX_TIMER_MS)
                : giveUp(timeoutError(ms, `the reply to RPC call "${method}"`)),
            Math.min(left, MAX_TIMER_MS),
          );
        };
        arm(ms);
      }
      this.#framed.send(frame).catch((error) => {
        if (this.#pending.get(id) !== call) return;
        this.#pending.delete(id);
        call.reject(
          error instanceof RangeError ? error : new RpcError(
            `Cannot send the call to "${method}": ${(error as Error)?.message}`,
            { code: "ECONNRESET", method, cause: error },
          ),
        );
      });
    });
  }

  /**
   * Closes the connection; pending calls reject with an
   * {@linkcode RpcError} `ECONNABORTED`. Idempotent.
   *
   * @returns Resolves when the connection is closed.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#end({ code: "ECONNABORTED", message: "The RPC client was closed" });
    }
    await this.#framed.close();
    await this.#reading;
  }

  /** Closes, as {@linkcode RpcClient.close} does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Starts closing (see {@linkcode RpcClient.close}) without waiting. */
  [Symbol.dispose](): void {
    this.close().catch(() => {});
  }
}

function remoteError(e: WireErrorBody, method: string): RpcError {
  const options: {
    name: string;
    method: string;
    code?: string;
    data?: unknown;
  } = { name: e.name, method };
  if (e.code !== undefined) options.code = e.code;
  if (e.data !== undefined) options.data = e.data;
  return new RpcError(e.message, options);
}
