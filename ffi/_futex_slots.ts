// The memory the main thread and a futex helper thread share: one control
// word and SLOTS wait registrations. futex_waitv(2) takes at most 128
// futexes: the control word plus 127 slots.

/** Registrations one helper thread can hold. */
export const SLOTS = 127;

/** Slot states. */
export const FREE = 0;
export const ACTIVE = 1;
export const REPORTED = 2;
/** Cancelled by the main thread; the helper frees it, or reports a wake it took. */
export const CANCELLED = 3;

/** Views over one helper thread's shared registration table. */
export interface FutexSlots {
  readonly buffer: SharedArrayBuffer;
  /** [0]: generation, bumped (and woken) on every change of the table. */
  readonly control: Int32Array;
  readonly state: Int32Array;
  readonly expected: Int32Array;
  readonly token: Int32Array;
  readonly address: Float64Array;
}

/** Views over `buffer`, or over a new table when none is given. */
export function futexSlots(
  buffer: SharedArrayBuffer = new SharedArrayBuffer(8 + SLOTS * 20),
): FutexSlots {
  return {
    buffer,
    address: new Float64Array(buffer, 0, SLOTS),
    control: new Int32Array(buffer, SLOTS * 8, 2),
    state: new Int32Array(buffer, SLOTS * 8 + 8, SLOTS),
    expected: new Int32Array(buffer, SLOTS * 12 + 8, SLOTS),
    token: new Int32Array(buffer, SLOTS * 16 + 8, SLOTS),
  };
}
