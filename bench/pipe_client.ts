// The measuring end of the pipe suite, one scenario per process (the runner
// starts it under `taskset` for the pinned placement; the peer it spawns
// inherits the CPU mask):
//
//   pipe_client.ts <pipe|fifo> <sync|async|native|throughput> <timeMs> <bytes> <batch> <spin> [fifo-dir]
//
// It makes the two channels (pipes handed to the peer as fds 3 and 4, or two
// FIFOs in fifo-dir), starts bench/pipe_peer.ts, measures with tinybench and
// prints one JSON line: latency p50/p99 in µs, or throughput in GB/s.
import process from "node:process";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Bench } from "tinybench";
import { createPipe, type PipeReader, type PipeWriter } from "../pipe/mod.ts";
import {
  createFifo,
  type FifoReader,
  type FifoWriter,
  openFifo,
  removeFifo,
} from "../fifo/mod.ts";
import { nativeEnds } from "./_pipe_native.ts";

const [kind, mode, timeArg, bytesArg, batchArg, spinArg, dir] = process.argv
  .slice(2);
const spin = Number(spinArg);
const time = Number(timeArg);
const bytes = Number(bytesArg);
const batch = Number(batchArg);
const peerMode = mode === "throughput"
  ? "sink"
  : mode === "sync"
  ? "echo-sync"
  : mode === "async"
  ? "echo-async"
  : "echo-native";

const here = new URL(".", import.meta.url).pathname;
const isDeno = "Deno" in globalThis;
const peerScript = join(here, "pipe_peer.ts");
const runtimeArgs = isDeno
  ? ["run", "--allow-all", "--quiet", peerScript]
  : ["run", peerScript];

let writer: PipeWriter | FifoWriter;
let reader: PipeReader | FifoReader;
let peer;
if (kind === "pipe") {
  const request = createPipe({ spin });
  const reply = createPipe({ spin });
  peer = spawn(process.execPath, [
    ...runtimeArgs,
    peerMode,
    String(bytes),
    String(batch),
    String(spin),
    "fd",
    "3",
    "4",
  ], {
    stdio: ["ignore", "inherit", "inherit", request.reader.fd, reply.writer.fd],
  });
  request.reader.close();
  reply.writer.close();
  writer = request.writer;
  reader = reply.reader;
} else {
  const req = join(dir!, `req_${process.pid}`);
  const rep = join(dir!, `rep_${process.pid}`);
  createFifo(req);
  createFifo(rep);
  try {
    peer = spawn(process.execPath, [
      ...runtimeArgs,
      peerMode,
      String(bytes),
      String(batch),
      String(spin),
      "fifo",
      req,
      rep,
    ], { stdio: ["ignore", "inherit", "inherit"] });
    writer = await openFifo(req, "write", { timeout: 30_000, spin });
    reader = await openFifo(rep, "read", { timeout: 30_000, spin });
  } finally {
    removeFifo(req);
    removeFifo(rep);
  }
}
const exited = new Promise((resolve) => peer.on("exit", resolve));

const message = new Uint8Array(bytes).fill(0x5a);
const buffer = new Uint8Array(bytes);

function readFullSync(): void {
  let got = 0;
  while (got < bytes) {
    const n = reader.readSync(got === 0 ? buffer : buffer.subarray(got));
    if (n === null) throw new Error("peer closed");
    got += n;
  }
}

try {
  const bench = new Bench({ time, warmupTime: 300, throws: true });
  if (mode === "sync") {
    for (let i = 0; i < 200; i++) {
      writer.writeSync(message);
      readFullSync();
    }
    bench.add("round trip", () => {
      writer.writeSync(message);
      readFullSync();
    });
  } else if (mode === "async") {
    bench.add("round trip", async () => {
      await writer.write(message);
      let got = 0;
      while (got < bytes) {
        const n = await reader.read(got === 0 ? buffer : buffer.subarray(got));
        if (n === null) throw new Error("peer closed");
        got += n;
      }
    }, { async: true });
  } else if (mode === "native") {
    const native = nativeEnds(reader.fd, writer.fd);
    bench.add("round trip", async () => {
      native.writeSync(message);
      let got = 0;
      while (got < bytes) {
        const n = await native.read(got === 0 ? buffer : buffer.subarray(got));
        if (n === 0) throw new Error("peer closed");
        got += n;
      }
    }, { async: true });
  } else if (mode === "throughput") {
    const ack = new Uint8Array(1);
    bench.add("batch", () => {
      for (let sent = 0; sent < batch; sent += bytes) writer.writeSync(message);
      reader.readSync(ack);
    });
  } else {
    throw new TypeError(`Unknown client mode: ${mode}`);
  }
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (!result || !("latency" in result)) {
    throw new Error(`Benchmark ${result?.state}`);
  }
  const { p50, p99, samplesCount } = result.latency;
  console.log(JSON.stringify(
    mode === "throughput"
      ? { gbps: batch / (p50! * 1e6), batches: samplesCount }
      : { p50: p50! * 1e3, p99: p99! * 1e3, samples: samplesCount },
  ));
} finally {
  writer.close();
  reader.close();
  peer.kill("SIGKILL");
  await exited;
}
