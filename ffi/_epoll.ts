// Reading struct epoll_event arrays: packed (12 bytes) on x86_64, 16 bytes
// on aarch64; the token sits in the low half of `data`.
import { arch } from "./platform.ts";

let sizeCache = 0;
/** The size of one event (read once: arch() is not free per event). */
const size = () => sizeCache ||= arch().epollEventSize;
const dataOffset = () => size() === 12 ? 4 : 8;

/** Room for `max` events. */
export function epollEvents(max: number): Uint8Array {
  return new Uint8Array(max * size());
}

/** The first `n` events as [token, events] pairs. */
export function decodeEvents(buffer: Uint8Array, n: number): Uint32Array {
  const view = new DataView(buffer.buffer, buffer.byteOffset);
  const fired = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    fired[2 * i] = view.getUint32(i * size() + dataOffset(), true);
    fired[2 * i + 1] = view.getUint32(i * size(), true);
  }
  return fired;
}

/** Fills one event for epoll_ctl. */
export function encodeEvent(
  buffer: Uint8Array,
  events: number,
  token: number,
): void {
  const view = new DataView(buffer.buffer, buffer.byteOffset);
  view.setUint32(0, events, true);
  view.setUint32(dataOffset(), token, true);
}
