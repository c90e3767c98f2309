// The bytes the socket tests send and the checksum they compare, shared by
// the tests and their peers (tests/helpers/socket_peer.ts).

/** The size of record i (1 to 30000, varied). */
export function recordSize(i: number): number {
  return 1 + ((i * 7919) % 30000);
}

/** Record i's bytes. */
export function recordBytes(i: number): Uint8Array {
  const bytes = new Uint8Array(recordSize(i));
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 7) & 255;
  return bytes;
}

/**
 * A Fletcher-style checksum over 32-bit words (two running sums, modulo
 * 2^32): it sees every byte and its position. Feed it chunks whose lengths
 * are multiples of 4, but the last; `state` is `[sum, sum of sums]`.
 */
export function checksum(
  state: readonly [number, number],
  bytes: Uint8Array,
): [number, number] {
  const words = new Int32Array(
    bytes.buffer,
    bytes.byteOffset,
    bytes.byteLength >> 2,
  );
  let [a, b] = state;
  for (let i = 0; i < words.length; i++) {
    a = (a + words[i]!) | 0;
    b = (b + a) | 0;
  }
  for (let i = words.length * 4; i < bytes.byteLength; i++) {
    a = (a + bytes[i]!) | 0;
    b = (b + a) | 0;
  }
  return [a, b];
}

/**
 * The checksum after `blocks` blocks of `base` (its length a multiple of
 * 4, its first word 0) with block i's first word set to i, in O(length +
 * blocks): what {@linkcode checksum} gives for those bytes.
 */
export function blocksChecksum(
  base: Uint8Array,
  blocks: number,
): [number, number] {
  const words = new Int32Array(base.buffer, base.byteOffset, base.length >> 2);
  const m = words.length;
  let s0 = 0;
  let t0 = 0;
  for (let j = 0; j < m; j++) {
    s0 = (s0 + words[j]!) | 0;
    t0 = (t0 + Math.imul(m - j, words[j]!)) | 0;
  }
  let a = 0;
  let b = 0;
  for (let i = 0; i < blocks; i++) {
    b = (b + Math.imul(m, a) + t0 + Math.imul(m, i)) | 0;
    a = (a + s0 + i) | 0;
  }
  return [a, b];
}

/** Every chunk of a byte stream, joined (reads with a reader: no async iteration needed). */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  reader.releaseLock();
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
