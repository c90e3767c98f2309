// The runtime's own way to use a pipe end (the "native" peer of the pipe
// suite): Deno opens /proc/self/fd/N as an FsFile; Bun reads a descriptor
// with Bun.file(fd).stream() and writes it with node:fs.
import { writeSync } from "node:fs";

/** Native reads and writes on two descriptors. */
export interface NativeEnds {
  read(buffer: Uint8Array): Promise<number>;
  writeSync(data: Uint8Array): void;
}

interface DenoFile {
  read(p: Uint8Array): Promise<number | null>;
  writeSync(p: Uint8Array): number;
}
interface DenoLike {
  openSync(
    path: string,
    options: { read?: boolean; write?: boolean },
  ): DenoFile;
}
interface BunLike {
  file(fd: number): { stream(): ReadableStream<Uint8Array> };
}

/** Wraps a reading and a writing descriptor natively. */
export function nativeEnds(readFd: number, writeFd: number): NativeEnds {
  const g = globalThis as { Deno?: DenoLike; Bun?: BunLike };
  if (g.Bun !== undefined) {
    const reader = g.Bun.file(readFd).stream().getReader();
    let rest: Uint8Array | undefined;
    return {
      async read(buffer) {
        if (rest === undefined) {
          const { done, value } = await reader.read();
          if (done) return 0;
          rest = value;
        }
        const n = Math.min(rest.length, buffer.length);
        buffer.set(rest.subarray(0, n));
        rest = n < rest.length ? rest.subarray(n) : undefined;
        return n;
      },
      writeSync(data) {
        let at = 0;
        while (at < data.length) at += writeSync(writeFd, data, at);
      },
    };
  }
  const deno = g.Deno!;
  const input = deno.openSync(`/proc/self/fd/${readFd}`, { read: true });
  const output = deno.openSync(`/proc/self/fd/${writeFd}`, { write: true });
  return {
    async read(buffer) {
      return (await input.read(buffer)) ?? 0;
    },
    writeSync(data) {
      let at = 0;
      while (at < data.length) at += output.writeSync(data.subarray(at));
    },
  };
}
