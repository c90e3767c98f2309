// The RPC wire format: one framed message per call, result, error or
// cancellation.
//
//   u32 (big-endian)  length of the JSON envelope
//   JSON (UTF-8)      { "t": "call" | "ok" | "err" | "cancel", "id": n, ... }
//   [u32 count, count x u32 lengths, the byte arrays]   only when any
//
// A Uint8Array anywhere in params or a result travels as raw bytes after the
// envelope; in the JSON it is `{ "@ipckit/bytes": index }`.

/** The JSON key that marks where a byte array was. */
export const BYTES_KEY = "@ipckit/bytes";

/** A call: method and params. */
export interface WireCall {
  t: "call";
  id: number;
  m: string;
  p?: unknown;
}

/** A result. */
export interface WireOk {
  t: "ok";
  id: number;
  r?: unknown;
}

/** What an error becomes on the wire. */
export interface WireErrorBody {
  name: string;
  message: string;
  code?: string;
  data?: unknown;
}

/** An error thrown by the handler (or the server's own). */
export interface WireErr {
  t: "err";
  id: number;
  e: WireErrorBody;
}

/** The client gave up on a call (timeout, abort). */
export interface WireCancel {
  t: "cancel";
  id: number;
}

/** Any RPC message. */
export type WireMessage = WireCall | WireOk | WireErr | WireCancel;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a message; throws TypeError when a value cannot be serialized
 * (a BigInt, a cycle).
 */
export function encodeMessage(message: WireMessage): Uint8Array {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(
    message,
    function (this: Record<string, unknown>, key: string, value: unknown) {
      // The holder's own value: a Buffer's toJSON has already run on `value`.
      const raw = key === "" ? value : this[key];
      if (raw instanceof Uint8Array) {
        blobs.push(raw);
        return { [BYTES_KEY]: blobs.length - 1 };
      }
      return value;
    },
  );
  const body = encoder.encode(json);
  let size = 4 + body.byteLength;
  if (blobs.length > 0) {
    size += 4 + 4 * blobs.length;
    for (const blob of blobs) size += blob.byteLength;
  }
  const frame = new Uint8Array(size);
  const view = new DataView(frame.buffer);
  view.setUint32(0, body.byteLength);
  frame.set(body, 4);
  if (blobs.length > 0) {
    let at = 4 + body.byteLength;
    view.setUint32(at, blobs.length);
    at += 4;
    for (const blob of blobs) {
      view.setUint32(at, blob.byteLength);
      at += 4;
    }
    for (const blob of blobs) {
      frame.set(blob, at);
      at += blob.byteLength;
    }
  }
  return frame;
}

/** A frame that is not a valid RPC message. */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireFormatError";
  }
}

/** Decodes a message; throws WireFormatError for anything malformed. */
export function decodeMessage(frame: Uint8Array): WireMessage {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.byteLength < 4) throw new WireFormatError("frame too short");
  const length = view.getUint32(0);
  if (4 + length > frame.byteLength) {
    throw new WireFormatError("envelope longer than the frame");
  }
  let blobs: Uint8Array[] | undefined;
  let at = 4 + length;
  if (at < frame.byteLength) {
    if (at + 4 > frame.byteLength) throw new WireFormatError("bad byte table");
    const count = view.getUint32(at);
    at += 4;
    if (at + 4 * count > frame.byteLength) {
      throw new WireFormatError("bad byte table");
    }
    const lengths: number[] = [];
    for (let i = 0; i < count; i++, at += 4) lengths.push(view.getUint32(at));
    blobs = [];
    for (const n of lengths) {
      if (at + n > frame.byteLength) {
        throw new WireFormatError("byte array beyond the frame");
      }
      blobs.push(frame.slice(at, at + n));
      at += n;
    }
    if (at !== frame.byteLength) {
      throw new WireFormatError("bytes left after the byte arrays");
    }
  }
  let message: unknown;
  try {
    const text = decoder.decode(frame.subarray(4, 4 + length));
    message = blobs === undefined ? JSON.parse(text) : JSON.parse(
      text,
      (_key, value: unknown) => {
        // Exactly { "@ipckit/bytes": <index> }: anything else is left alone.
        if (
          value !== null && typeof value === "object" &&
          !Array.isArray(value) && BYTES_KEY in value &&
          Object.keys(value).length === 1
        ) {
          const index = (value as Record<string, unknown>)[BYTES_KEY];
          if (typeof index !== "number") return value;
          const blob = blobs![index];
          if (blob === undefined) {
            throw new WireFormatError("bad byte array reference");
          }
          return blob;
        }
        return value;
      },
    );
  } catch (error) {
    if (error instanceof WireFormatError) throw error;
    throw new WireFormatError(`bad JSON envelope: ${(error as Error).message}`);
  }
  return checkMessage(message);
}

function checkMessage(value: unknown): WireMessage {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WireFormatError("envelope is not an object");
  }
  const m = value as Record<string, unknown>;
  if (!Number.isSafeInteger(m.id) || (m.id as number) < 0) {
    throw new WireFormatError("bad id");
  }
  switch (m.t) {
    case "call":
      if (typeof m.m !== "string") throw new WireFormatError("bad method");
      return m as unknown as WireCall;
    case "ok":
    case "cancel":
      return m as unknown as WireOk | WireCancel;
    case "err": {
      const e = m.e as Record<string, unknown> | null;
      if (
        e === null || typeof e !== "object" || typeof e.name !== "string" ||
        typeof e.message !== "string" ||
        (e.code !== undefined && typeof e.code !== "string")
      ) {
        throw new WireFormatError("bad error");
      }
      return m as unknown as WireErr;
    }
    default:
      throw new WireFormatError(`unknown message type ${JSON.stringify(m.t)}`);
  }
}

/** What an error thrown by a handler becomes on the wire. */
export function errorBody(error: unknown): WireErrorBody {
  if (error instanceof Error) {
    const body: WireErrorBody = { name: error.name, message: error.message };
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") body.code = code;
    else if (typeof code === "number") body.code = String(code);
    const data = (error as { data?: unknown }).data;
    if (data !== undefined) body.data = data;
    return body;
  }
  if (error instanceof DOMException) {
    return { name: error.name, message: error.message };
  }
  return { name: "Error", message: String(error) };
}
