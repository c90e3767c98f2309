// A pipe and FIFO peer for cross-process tests, run under Deno or Bun:
//   write-gib <fd> <mib>       adopts fd as a PipeWriter, writes <mib> MiB of
//                              the pattern (1 MiB writes); prints the checksum
//   epipe                      makes a pipe, closes its reader, writes; prints
//                              the error code (the process must survive)
//   adopt-write <fd> <text>    adopts fd as a PipeWriter and writes text
//   fifo-lines <path> <count>  opens the FIFO for writing, writes "line <i>\n"
//                              for i < count (a mix of sync, async, try)
//   fifo-records <path> <tag> <count>  writes count records of PIPE_BUF bytes
//                              filled with the tag byte, one write each
//   fifo-open <path> <access>  openFifo with a 2 s timeout: prints "opened"
//                              or the error code
//   fifo-read-all <path>       opens for reading, prints the byte count at EOF
import process from "node:process";
import { IpcError, PipeWriter } from "../../pipe/mod.ts";
import { createPipe } from "../../pipe/mod.ts";
import { openFifo } from "../../fifo/mod.ts";
import { checksum, patternChunk } from "./pipe_pattern.ts";

const [mode, a, b, c] = process.argv.slice(2);

function codeOf(error: unknown): string {
  return error instanceof IpcError ? error.code : String(error);
}

switch (mode) {
  case "write-gib": {
    using writer = PipeWriter.fromDescriptor(Number(a));
    const mib = Number(b);
    let sum = 0;
    for (let i = 0; i < mib; i++) {
      const chunk = patternChunk(i);
      sum = checksum(sum, chunk);
      writer.writeSync(chunk);
    }
    console.log(String(sum));
    break;
  }
  case "epipe": {
    const { reader, writer } = createPipe();
    reader.close();
    try {
      writer.writeSync("x");
      console.log("wrote");
    } catch (error) {
      console.log(codeOf(error));
    }
    try {
      await writer.write("x");
    } catch (error) {
      console.log(codeOf(error));
    }
    writer.close();
    break;
  }
  case "adopt-write": {
    using writer = PipeWriter.fromDescriptor(Number(a));
    await writer.write(b!);
    console.log("wrote");
    break;
  }
  case "fifo-lines": {
    await using writer = await openFifo(a!, "write", { timeout: 10_000 });
    const count = Number(b);
    for (let i = 0; i < count; i++) {
      const line = `line ${i}\n`;
      if (i % 3 === 0) writer.writeSync(line);
      else if (i % 3 === 1) await writer.write(line);
      else if (writer.tryWrite(line) === undefined) await writer.write(line);
    }
    console.log("wrote");
    break;
  }
  case "fifo-records": {
    await using writer = await openFifo(a!, "write", { timeout: 10_000 });
    const record = new Uint8Array(4096).fill(b!.charCodeAt(0));
    for (let i = 0; i < Number(c); i++) {
      if (i % 2 === 0) writer.writeSync(record);
      else await writer.write(record);
    }
    console.log("wrote");
    break;
  }
  case "fifo-open": {
    try {
      const end = await openFifo(a!, b as "read" | "write", { timeout: 2000 });
      end.close();
      console.log("opened");
    } catch (error) {
      console.log(codeOf(error));
    }
    break;
  }
  case "fifo-read-all": {
    await using reader = await openFifo(a!, "read", { timeout: 10_000 });
    let total = 0;
    const chunks = reader.readable.getReader();
    for (;;) {
      const { done, value } = await chunks.read();
      if (done) break;
      total += value.length;
    }
    console.log(String(total));
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
