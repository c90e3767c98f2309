// The byte pattern shm tests write and check across processes: byte i of a
// segment written with `seed`.

/** Byte `i` of the pattern. */
export function patternByte(i: number, seed: number): number {
  return (i * 31 + seed + (i >>> 8)) & 255;
}

/** Fills `bytes` with the pattern. */
export function fillPattern(bytes: Uint8Array, seed: number): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] = patternByte(i, seed);
}

/** The first byte that differs from the pattern, described, or "" when none does. */
export function patternMismatch(bytes: Uint8Array, seed: number): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== patternByte(i, seed)) {
      return `byte ${i} is ${bytes[i]}, expected ${patternByte(i, seed)}`;
    }
  }
  return "";
}
