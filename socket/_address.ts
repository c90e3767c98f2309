// Socket addresses: validation, and struct sockaddr encoding (sockaddr_un,
// sockaddr_in, sockaddr_in6) and decoding. Numeric IP addresses only (plus
// "localhost"); name resolution is the caller's (see _resolve.ts).
import { describeValue } from "../ffi/mod.ts";
import type { SocketAddress, SocketEndpoint } from "./types.ts";

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
/** sizeof(struct sockaddr_un): family (2) + sun_path (108). */
export const SOCKADDR_UN_SIZE = 110;
/** The longest Unix socket path (sun_path less its terminating NUL). */
export const MAX_UNIX_PATH = 107;
/** The longest abstract name (sun_path less the leading NUL). */
export const MAX_ABSTRACT_NAME = 107;
/** A buffer big enough for any address we decode (sockaddr_storage). */
export const SOCKADDR_MAX = 128;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Which family an address is. */
export function familyOf(address: SocketEndpoint): number {
  if ("hostname" in address) {
    return address.hostname.includes(":") ? AF_INET6 : AF_INET;
  }
  return AF_UNIX;
}

/** What an address looks like in messages: `"/run/app.sock"`, `"@name"`, `"127.0.0.1:80"`. */
export function describeAddress(address: SocketAddress): string {
  if ("path" in address) return address.path;
  if ("abstract" in address) return `@${address.abstract}`;
  if ("hostname" in address) {
    return address.hostname.includes(":")
      ? `[${address.hostname}]:${address.port}`
      : `${address.hostname}:${address.port}`;
  }
  return "(unnamed)";
}

/**
 * Checks an address given by a caller (a plain object with exactly one of
 * `path`, `abstract`, `hostname` + `port`) and returns a clean copy. The
 * hostname must be numeric (or "localhost") unless `allowNames`.
 */
export function checkAddress(
  value: unknown,
  name: string,
  allowNames = false,
): SocketEndpoint {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `${name} must be an object with path, abstract or hostname and port, got ${
        describeValue(value)
      }`,
    );
  }
  const o = value as Record<string, unknown>;
  const kinds = ["path", "abstract", "hostname"].filter((k) =>
    o[k] !== undefined
  );
  if (kinds.length !== 1) {
    throw new TypeError(
      `${name} must have exactly one of path, abstract or hostname (with port), got ${
        kinds.length === 0 ? "none" : kinds.join(" and ")
      }`,
    );
  }
  if (o.path !== undefined) {
    if (typeof o.path !== "string" || o.path === "") {
      throw new TypeError(
        `${name}.path must be a non-empty string, got ${describeValue(o.path)}`,
      );
    }
    if (o.path.includes("\0")) {
      throw new TypeError(`${name}.path must not contain NUL characters`);
    }
    const bytes = encoder.encode(o.path).length;
    if (bytes > MAX_UNIX_PATH) {
      throw new RangeError(
        `${name}.path is ${bytes} bytes; a Unix socket path holds at most ${MAX_UNIX_PATH} bytes (sun_path): use a shorter path, a relative one, or an abstract name`,
      );
    }
    return { path: o.path };
  }
  if (o.abstract !== undefined) {
    if (typeof o.abstract !== "string" || o.abstract === "") {
      throw new TypeError(
        `${name}.abstract must be a non-empty string, got ${
          describeValue(o.abstract)
        }`,
      );
    }
    const bytes = encoder.encode(o.abstract).length;
    if (bytes > MAX_ABSTRACT_NAME) {
      throw new RangeError(
        `${name}.abstract is ${bytes} bytes; an abstract socket name holds at most ${MAX_ABSTRACT_NAME} bytes`,
      );
    }
    return { abstract: o.abstract };
  }
  if (typeof o.hostname !== "string" || o.hostname === "") {
    throw new TypeError(
      `${name}.hostname must be a non-empty string, got ${
        describeValue(o.hostname)
      }`,
    );
  }
  const port = o.port;
  if (typeof port !== "number") {
    throw new TypeError(
      `${name}.port must be a number from 0 to 65535, got ${
        describeValue(port)
      }`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `${name}.port must be an integer from 0 to 65535, got ${port}`,
    );
  }
  const hostname = o.hostname === "localhost" ? "127.0.0.1" : o.hostname;
  if (
    !allowNames && parseIPv4(hostname) === undefined &&
    parseIPv6(hostname) === undefined
  ) {
    throw new TypeError(
      `${name}.hostname must be a numeric IPv4 or IPv6 address or "localhost", got ${
        JSON.stringify(o.hostname)
      }`,
    );
  }
  return { hostname, port };
}

/** The 4 bytes of a dotted IPv4 address, or `undefined`. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** The 16 bytes of an IPv6 address (`::1`, `fe80::1`, `::ffff:1.2.3.4`), or `undefined`. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (!text.includes(":") || text.includes("%")) return undefined;
  const out = new Uint8Array(16);
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const words = (part: string): number[] | undefined => {
    if (part === "") return [];
    const result: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (v4 === undefined) return undefined;
        result.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        result.push(parseInt(p, 16));
      }
    }
    return result;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) {
    words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  }
  // The longest run of zero words (2 or more) becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best === -1) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLength))}`;
}

/** Encodes a checked address as a struct sockaddr; returns the buffer and its length. */
export function encodeAddress(
  address: SocketEndpoint,
): { bytes: Uint8Array; length: number } {
  if ("path" in address || "abstract" in address) {
    const bytes = new Uint8Array(SOCKADDR_UN_SIZE);
    bytes[0] = AF_UNIX;
    if ("path" in address) {
      const name = encoder.encode(address.path);
      bytes.set(name, 2);
      return { bytes, length: 2 + name.length + 1 };
    }
    const name = encoder.encode(address.abstract);
    bytes.set(name, 3); // sun_path[0] = 0: the abstract namespace
    return { bytes, length: 3 + name.length };
  }
  const v4 = parseIPv4(address.hostname);
  if (v4 !== undefined) {
    const bytes = new Uint8Array(16);
    bytes[0] = AF_INET;
    bytes[2] = address.port >> 8;
    bytes[3] = address.port & 0xff;
    bytes.set(v4, 4);
    return { bytes, length: 16 };
  }
  const v6 = parseIPv6(address.hostname);
  if (v6 === undefined) {
    throw new TypeError(
      `hostname must be a numeric IP address, got ${
        JSON.stringify(address.hostname)
      }`,
    );
  }
  const bytes = new Uint8Array(28);
  bytes[0] = AF_INET6;
  bytes[2] = address.port >> 8;
  bytes[3] = address.port & 0xff;
  bytes.set(v6, 8);
  return { bytes, length: 28 };
}

/** Decodes `length` bytes of a struct sockaddr. */
export function decodeAddress(
  bytes: Uint8Array,
  length: number,
): SocketAddress {
  if (length < 2) return { unnamed: true };
  const family = bytes[0]! | (bytes[1]! << 8);
  if (family === AF_UNIX) {
    if (length <= 2) return { unnamed: true };
    if (bytes[2] === 0) {
      return { abstract: decoder.decode(bytes.subarray(3, length)) };
    }
    let end = 2;
    while (end < length && bytes[end] !== 0) end++;
    return { path: decoder.decode(bytes.subarray(2, end)) };
  }
  const port = (bytes[2]! << 8) | bytes[3]!;
  if (family === AF_INET) {
    return { hostname: Array.from(bytes.subarray(4, 8)).join("."), port };
  }
  if (family === AF_INET6) {
    return { hostname: formatIPv6(bytes.subarray(8, 24)), port };
  }
  return { unnamed: true };
}
