// The bytes of test message `i`: its index, then a pattern, with a length
// that varies, so order, loss, duplication and corruption all show.
export function patternMessage(i: number, messageSize: number): Uint8Array {
  const length = 4 + (i * 131) % (messageSize - 3);
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, i, true);
  for (let j = 4; j < length; j++) bytes[j] = (i * 31 + j * 7) & 0xff;
  return bytes;
}

/** Why a received message is not message `i`, or undefined when it is. */
export function patternMismatch(
  i: number,
  messageSize: number,
  got: Uint8Array,
): string | undefined {
  const want = patternMessage(i, messageSize);
  if (got.length !== want.length) {
    return `message ${i}: length ${got.length}, expected ${want.length}`;
  }
  for (let j = 0; j < want.length; j++) {
    if (got[j] !== want[j]) return `message ${i}: byte ${j} differs`;
  }
  return undefined;
}
