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

/** A checksum over 32-bit words (the length a multiple of 4, but the last). */
export function checksum(state: number, bytes: Uint8Array): number {
  const words = new Uint32Array(
    bytes.buffer,
    bytes.byteOffset,
    bytes.byteLength >> 2,
  );
  let h = state;
  for (let i = 0; i < words.length; i++) {
    h = (Math.imul(h, 0x01000193) ^ words[i]!) >>> 0;
  }
  for (let i = words.length * 4; i < bytes.byteLength; i++) {
    h = (Math.imul(h, 0x01000193) ^ bytes[i]!) >>> 0;
  }
  return h;
}
