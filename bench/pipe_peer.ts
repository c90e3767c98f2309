// The far end of the pipe suite, run as its own process in the runner's
// runtime (started by bench/pipe_client.ts):
//
//   pipe_peer.ts <echo-sync|echo-async|echo-native|sink> <bytes> <batch> <spin> fd <in> <out>
//   pipe_peer.ts <mode> <bytes> <batch> <spin> fifo <request-path> <reply-path>
//
// Echoes every <bytes>-byte message, or (sink) reads <bytes> at a time and
// acknowledges every <batch> bytes with one byte. EOF means stop.
import process from "node:process";
import { PipeReader, PipeWriter } from "../pipe/mod.ts";
import { type FifoReader, type FifoWriter, openFifo } from "../fifo/mod.ts";
import { nativeEnds } from "./_pipe_native.ts";

const [mode, bytesArg, batchArg, spinArg, kind, a, b] = process.argv.slice(2);
const spin = Number(spinArg);
const bytes = Number(bytesArg);
const batch = Number(batchArg);

interface Ends {
  reader: PipeReader | FifoReader;
  writer: PipeWriter | FifoWriter;
}
let ends: Ends;
if (kind === "fd") {
  ends = {
    reader: PipeReader.fromDescriptor(Number(a), { spin }),
    writer: PipeWriter.fromDescriptor(Number(b), { spin }),
  };
} else {
  const reader = await openFifo(a!, "read", { timeout: 30_000, spin });
  const writer = await openFifo(b!, "write", { timeout: 30_000, spin });
  ends = { reader, writer };
}
const { reader, writer } = ends;
const buffer = new Uint8Array(bytes);

if (mode === "echo-sync") {
  for (;;) {
    let got = 0;
    while (got < bytes) {
      const n = reader.readSync(got === 0 ? buffer : buffer.subarray(got));
      if (n === null) process.exit(0);
      got += n;
    }
    writer.writeSync(buffer);
  }
} else if (mode === "echo-async") {
  for (;;) {
    let got = 0;
    while (got < bytes) {
      const n = await reader.read(got === 0 ? buffer : buffer.subarray(got));
      if (n === null) process.exit(0);
      got += n;
    }
    await writer.write(buffer);
  }
} else if (mode === "echo-native") {
  const native = nativeEnds(reader.fd, writer.fd);
  for (;;) {
    let got = 0;
    while (got < bytes) {
      const n = await native.read(got === 0 ? buffer : buffer.subarray(got));
      if (n === 0) process.exit(0);
      got += n;
    }
    native.writeSync(buffer);
  }
} else if (mode === "sink") {
  const ack = new Uint8Array(1);
  let got = 0;
  for (;;) {
    const n = reader.readSync(buffer);
    if (n === null) break;
    got += n;
    if (got >= batch) {
      got -= batch;
      writer.writeSync(ack);
    }
  }
} else {
  throw new TypeError(`Unknown peer mode: ${mode}`);
}
