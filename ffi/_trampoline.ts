// The errno-safe call path: a tiny shared object (_trampoline.c) that
// calls a libc function and copies errno in the same native frame, so no
// code the engine runs between the call and the read (a garbage collection,
// another FFI call) can change what we read. Loaded from a memfd; where that
// is refused (no /proc, exec-forbidding memfds, a scoped --allow-ffi), ipckit
// binds libc directly and reads errno right after the call instead.
import type { Backend, NativeCall, Pointer } from "./_types.ts";
import { native as fn } from "./_types.ts";
import { aarch64_SO, x86_64_SO } from "./_trampoline_so.ts";
import { arch } from "./platform.ts";

const MFD_CLOEXEC = 1;
const MFD_EXEC = 0x10; // Linux 6.3+: ask for an executable memfd explicitly
const RTLD_NOW = 2;
const encoder = new TextEncoder();

/** What the trampoline offers once loaded. */
export interface Trampoline {
  /** The path it was loaded from (`/proc/self/fd/N`). */
  readonly path: string;
  /** The errno saved by the calling thread's last call through it. */
  readonly errno: () => number;
  /** The address of `name` in the first of `libraries` that has it. */
  address(name: string, libraries: readonly string[]): Pointer | null;
}

const BOOT = {
  memfd_create: fn(["buffer", "u32"], "i32"), // int memfd_create(const char*, unsigned)
  write: fn(["i32", "buffer", "usize"], "isize"), // ssize_t write(int, const void*, size_t)
  close: fn(["i32"], "i32"), // int close(int)
};
const DL = {
  dlopen: fn(["buffer", "i32"], "ptr"), // void* dlopen(const char*, int flags)
  dlsym: fn(["ptr", "buffer"], "ptr"), // void* dlsym(void* handle, const char*)
};

function decode(base64: string): Uint8Array {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Loads the trampoline, or returns `undefined` where it cannot be loaded. */
export function loadTrampoline(b: Backend): Trampoline | undefined {
  // A backend's open() gives one call per name of the table it is given.
  let boot: Record<keyof typeof BOOT, NativeCall>;
  let dl: Record<keyof typeof DL, NativeCall>;
  try {
    boot = b.open("libc.so.6", BOOT) as typeof boot;
    try {
      dl = b.open("libc.so.6", DL) as typeof dl; // glibc 2.34+
    } catch {
      dl = b.open("libdl.so.2", DL) as typeof dl;
    }
  } catch (error) {
    if (isPermissionError(error)) throw error;
    return undefined;
  }
  const image = decode(arch().name === "aarch64" ? aarch64_SO : x86_64_SO);
  const name = encoder.encode("ipckit-trampoline\0");
  let fd = boot.memfd_create(name, MFD_CLOEXEC | MFD_EXEC);
  if (fd < 0) fd = boot.memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return undefined;
  // The descriptor stays open (close-on-exec) for the life of the process:
  // Deno opens the library once per signature, by this path.
  const path = `/proc/self/fd/${fd}`;
  let errnoCall: NativeCall;
  try {
    if (boot.write(fd, image, image.length) !== image.length) throw 0;
    const call = b.open(path, { ipckit_errno: fn([], "i32") })["ipckit_errno"];
    if (call === undefined) throw 0;
    errnoCall = call;
  } catch {
    boot.close(fd); // a scoped --allow-ffi, a memfd that may not execute
    return undefined;
  }
  const handles = new Map<string, Pointer | null>();
  return {
    path,
    errno: () => errnoCall(),
    address(symbol, libraries) {
      for (const library of libraries) {
        let handle = handles.get(library);
        if (handle === undefined) {
          handle = dl.dlopen(
            encoder.encode(library + "\0"),
            RTLD_NOW,
          ) as unknown as Pointer | null;
          handles.set(library, handle);
        }
        if (handle === null) continue;
        const p = dl.dlsym(
          handle as unknown as number,
          encoder.encode(symbol + "\0"),
        ) as unknown as Pointer | null;
        if (p !== null && b.addressOfPointer(p) !== 0) return p;
      }
      return null;
    },
  };
}

/** Whether `error` is the runtime refusing FFI (`--allow-ffi` missing). */
export function isPermissionError(error: unknown): boolean {
  const name = (error as Error)?.name;
  return name === "NotCapable" || name === "PermissionDenied";
}
