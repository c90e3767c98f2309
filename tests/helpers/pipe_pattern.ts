// The bytes the pipe throughput tests send, and a checksum that depends on
// their order: chunk i (1 MiB) is a fixed pseudo-random block with the
// chunk's number in its first and last words.

const MIB = 1 << 20;
let base: Uint32Array | undefined;

/** Chunk `i` of the pattern: 1 MiB, fresh. */
export function patternChunk(i: number): Uint8Array {
  if (base === undefined) {
    base = new Uint32Array(MIB / 4);
    let x = 0x9e3779b9;
    for (let j = 0; j < base.length; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      base[j] = x >>> 0;
    }
  }
  const words = base.slice();
  words[0] = i;
  words[words.length - 1] = ~i >>> 0;
  return new Uint8Array(words.buffer);
}

/**
 * Folds a whole number of 32-bit words into `sum`, order-sensitively
 * (`bytes.length` must be a multiple of 4).
 */
export function checksum(sum: number, bytes: Uint8Array): number {
  const words = new Uint32Array(
    bytes.buffer,
    bytes.byteOffset,
    bytes.length >> 2,
  );
  let s = sum | 0;
  for (let j = 0; j < words.length; j++) {
    s = (Math.imul(s, 31) + words[j]!) | 0;
  }
  return s >>> 0;
}
