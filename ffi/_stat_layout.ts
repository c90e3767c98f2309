// struct stat on LP64 glibc, x86_64 and aarch64 (checked against C's
// offsetof by tests/shm/layout_test.ts and layout_ids_test.ts).
import { arch } from "./platform.ts";

/** Byte offsets of the struct stat fields ipckit reads. */
export interface StatLayout {
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly rdev: number;
  /** `st_size`. */
  readonly bytes: number;
}

let layout: StatLayout | undefined;

/** The layout for this machine's architecture. */
export function statLayout(): StatLayout {
  if (layout !== undefined) return layout;
  const arm = arch().name === "aarch64";
  return layout = {
    size: arm ? 128 : 144,
    dev: 0,
    ino: 8,
    mode: arm ? 16 : 24,
    uid: arm ? 24 : 28,
    rdev: arm ? 32 : 40,
    bytes: 48,
  };
}
