// Shared memory for the sem tests, mapped through libc() directly (the sem
// module must not depend on shm/): shm_open + ftruncate + mmap(MAP_SHARED).
import { libc, sys, validatePosixName, viewMemory } from "../../ffi/mod.ts";

const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;

/** A MAP_SHARED mapping of a POSIX shared memory object. */
export interface SharedMapping extends Disposable {
  /** The object's name. */
  readonly name: string;
  /** An ArrayBuffer over the whole mapping. */
  readonly buffer: ArrayBuffer;
  /** Unmaps (and, for the creator, unlinks) the memory. */
  close(): void;
}

/**
 * Maps `size` bytes of the shared memory object `name`, creating it (zero
 * filled, unlinked on close) when `create` is set.
 */
export function mapShared(
  name: string,
  size: number,
  create = false,
): SharedMapping {
  const cname = validatePosixName(name, "shared memory");
  const flags = O_RDWR | (create ? O_CREAT | O_EXCL : 0);
  const fd = sys(() => libc().shm_open(cname, flags, 0o600), {
    syscall: "shm_open",
    path: name,
  });
  try {
    if (create) {
      sys(() => libc().ftruncate(fd, size), { syscall: "ftruncate" });
    }
    const p = libc().mmap(null, size, PROT_READ_WRITE, MAP_SHARED, fd, 0);
    if (p === null || p === (-1 as unknown)) throw new Error("mmap failed");
    const buffer = viewMemory(p, size);
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      libc().munmap(p, size);
      if (create) libc().shm_unlink(cname);
    };
    return { name, buffer, close, [Symbol.dispose]: close };
  } finally {
    libc().close(fd);
  }
}
