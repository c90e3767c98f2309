// Native memory, kept opaque: the only place outside the backends that knows
// addresses.
import { backend } from "./_libc.ts";
import type { Pointer } from "./_types.ts";

/**
 * The address of a typed array's first byte. Raw escape hatch: use it only
 * to hand an address to native code (a futex word, a struct field).
 *
 * @example
 * ```ts
 * import { addressOf } from "@ipckit/ipc/ffi";
 *
 * console.log(addressOf(new Int32Array(1)) > 0); // true
 * ```
 *
 * @param view The memory.
 * @returns Its address as a number.
 */
export function addressOf(view: ArrayBufferView): number {
  return backend().addressOf(view);
}

/**
 * An ArrayBuffer over native memory, without copying. The memory must stay
 * mapped for as long as the buffer is used.
 *
 * @example Viewing memory libc returned
 * ```ts
 * import { libc, viewMemory } from "@ipckit/ipc/ffi";
 *
 * const p = libc().mmap(null, 4096, 3, 0x22, -1, 0); // PROT_READ|WRITE, MAP_PRIVATE|ANONYMOUS
 * const bytes = new Uint8Array(viewMemory(p!, 4096));
 * bytes[0] = 1;
 * libc().munmap(p, 4096);
 * ```
 *
 * @param pointer Where the memory starts.
 * @param byteLength How many bytes to view.
 * @returns The buffer.
 */
export function viewMemory(pointer: Pointer, byteLength: number): ArrayBuffer {
  return backend().view(pointer, byteLength);
}

/**
 * A pointer from a numeric address (`null` for 0). Raw escape hatch.
 *
 * @example
 * ```ts
 * import { addressOf, pointerFrom } from "@ipckit/ipc/ffi";
 *
 * const p = pointerFrom(addressOf(new Uint8Array(8)));
 * console.log(p !== null); // true
 * ```
 *
 * @param address The address.
 * @returns The pointer.
 */
export function pointerFrom(address: number): Pointer | null {
  return backend().pointerFrom(address);
}

/**
 * The numeric address of a pointer (0 for `null`). Raw escape hatch.
 *
 * @example
 * ```ts
 * import { addressOfPointer } from "@ipckit/ipc/ffi";
 *
 * console.log(addressOfPointer(null)); // 0
 * ```
 *
 * @param pointer The pointer.
 * @returns Its address.
 */
export function addressOfPointer(pointer: Pointer | null): number {
  return backend().addressOfPointer(pointer);
}
