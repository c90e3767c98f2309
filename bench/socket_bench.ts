// Both ends of the socket benchmark, one scenario per process so that the
// suite can start each under `taskset` from a fresh runtime:
//
//   socket_bench.ts peer   <impl> <transport> <address> <echo|sink>
//   socket_bench.ts client <impl> <transport> <address> <latency|throughput> <timeMs> <bytes>
//
// impl: "sync" and "async" (ipckit's socket/ module), "framed" and "rpc"
// (framed() messages and RpcClient calls over its stream sockets, async),
// "native" (Deno.connect
// / Deno.listen in Deno, Bun.connect / Bun.listen in Bun), "node" (node:net,
// node:dgram for UDP). transport: unix-stream, unix-seqpacket, unix-dgram,
// tcp, udp. address: a socket path for Unix transports, the peer's port for
// tcp and udp (the peer is given 0, binds a free port and prints it).
//
// The peer prints "ready <port>" and echoes (or sinks, acknowledging every
// BATCH_BYTES with one byte) until its peer goes away. The client prints one
// JSON line: latency p50/p99 in µs, or throughput in GB/s.
import process from "node:process";
import net from "node:net";
import dgram from "node:dgram";
import { Bench } from "tinybench";
import {
  bindDatagram,
  connect,
  type DatagramSocket,
  framed,
  listen,
  RpcClient,
  RpcServer,
  type SocketConnection,
  type SocketEndpoint,
} from "../socket/mod.ts";
import { printRoundTrips } from "./_round_trip.ts";

/** Bytes per throughput batch (bench/c/socket_pingpong.c uses the same). */
export const BATCH_BYTES = 8 << 20;

type Impl = "sync" | "async" | "native" | "node" | "framed" | "rpc";
type Transport =
  | "unix-stream"
  | "unix-seqpacket"
  | "unix-dgram"
  | "tcp"
  | "udp";

const HOST = "127.0.0.1";

interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  setNoDelay?(on: boolean): void;
  close(): void;
}
interface DenoListener {
  addr: { port?: number };
  accept(): Promise<DenoConn>;
}
interface DenoNet {
  listen(
    o: { transport: "unix"; path: string } | { hostname: string; port: number },
  ): DenoListener;
  connect(
    o: { transport: "unix"; path: string } | { hostname: string; port: number },
  ): Promise<DenoConn>;
}
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
}
interface BunSocketHandlers {
  data(socket: BunSocket, data: Uint8Array): void;
  close?(socket: BunSocket): void;
  drain?(socket: BunSocket): void;
}
interface BunNet {
  listen(
    o: ({ unix: string } | { hostname: string; port: number }) & {
      socket: BunSocketHandlers;
    },
  ): { port: number };
  connect(
    o: ({ unix: string } | { hostname: string; port: number }) & {
      socket: BunSocketHandlers;
    },
  ): Promise<BunSocket>;
}
const g = globalThis as unknown as { Deno?: DenoNet; Bun?: BunNet };

const isUnix = (t: Transport) => t.startsWith("unix-");
const isDatagram = (t: Transport) => t === "unix-dgram" || t === "udp";

function endpoint(t: Transport, address: string): SocketEndpoint {
  return isUnix(t) ? { path: address } : { hostname: HOST, port: +address };
}

/** Resolves once `n` more bytes arrived through `feed`. */
class Arrivals {
  #need = 0;
  #resolve: (() => void) | undefined;
  expect(n: number): Promise<void> {
    this.#need = n;
    return new Promise((r) => (this.#resolve = r));
  }
  feed(n: number): void {
    this.#need -= n;
    if (this.#need <= 0 && this.#resolve) {
      const resolve = this.#resolve;
      this.#resolve = undefined;
      resolve();
    }
  }
}

// --- peers ------------------------------------------------------------

async function peer(impl: Impl, t: Transport, address: string, kind: string) {
  const ready = (port: number) => console.log(`ready ${port}`);
  const sink = kind === "sink";
  const buffer = new Uint8Array(256 * 1024);
  if (impl === "framed" || impl === "rpc") {
    const server = await listen(endpoint(t, address));
    const local = server.address;
    ready("port" in local ? local.port : 0);
    const conn = await server.accept();
    server.close();
    if (impl === "rpc") {
      await new RpcServer({ echo: (x: unknown) => x }).serve(conn);
      return;
    }
    await using messages = framed(conn);
    for await (const message of messages) await messages.send(message);
    return;
  }
  if (impl === "sync" || impl === "async") {
    if (isDatagram(t)) {
      using socket = bindDatagram(endpoint(t, address));
      const local = socket.localAddress;
      ready("port" in local ? local.port : 0);
      for (;;) {
        const { data, from } = impl === "sync"
          ? socket.receiveSync()
          : await socket.receive();
        if (data.length === 0) return;
        if (impl === "sync") socket.sendSync(data, from as SocketEndpoint);
        else await socket.send(data, from as SocketEndpoint);
      }
    }
    const server = await listen({
      ...endpoint(t, address),
      type: t === "unix-seqpacket" ? "seqpacket" : "stream",
    });
    const local = server.address;
    ready("port" in local ? local.port : 0);
    const conn = await server.accept();
    server.close();
    let got = 0;
    for (;;) {
      const n = impl === "sync"
        ? conn.readSync(buffer)
        : await conn.read(buffer);
      if (n === null) return conn.close();
      if (!sink) {
        if (impl === "sync") conn.writeSync(buffer.subarray(0, n));
        else await conn.write(buffer.subarray(0, n));
        continue;
      }
      got += n;
      while (got >= BATCH_BYTES) {
        got -= BATCH_BYTES;
        if (impl === "sync") conn.writeSync(ACK);
        else await conn.write(ACK);
      }
    }
  }
  if (impl === "native" && g.Deno) {
    const listener = g.Deno.listen(
      isUnix(t) ? { transport: "unix", path: address } : {
        hostname: HOST,
        port: 0,
      },
    );
    ready(listener.addr.port ?? 0);
    const conn = await listener.accept();
    conn.setNoDelay?.(true);
    let got = 0;
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return conn.close();
      if (!sink) {
        await writeAll(conn, buffer.subarray(0, n));
        continue;
      }
      got += n;
      while (got >= BATCH_BYTES) {
        got -= BATCH_BYTES;
        await writeAll(conn, ACK);
      }
    }
  }
  if (impl === "native" && g.Bun) {
    let got = 0;
    const done = Promise.withResolvers<void>();
    const server = g.Bun.listen({
      ...(isUnix(t) ? { unix: address } : { hostname: HOST, port: 0 }),
      socket: {
        data(socket, data) {
          if (!sink) {
            if (socket.write(data) !== data.length) {
              throw new Error("Bun echo write was partial");
            }
            return;
          }
          got += data.length;
          while (got >= BATCH_BYTES) {
            got -= BATCH_BYTES;
            socket.write(ACK);
          }
        },
        close: () => done.resolve(),
      },
    });
    ready(isUnix(t) ? 0 : server.port);
    await done.promise;
    process.exit(0);
  }
  if (impl === "node" && t === "udp") {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, HOST, r));
    ready(socket.address().port);
    await new Promise<void>((resolve) => {
      socket.on("message", (message, from) => {
        if (message.length === 0) {
          socket.close();
          return resolve();
        }
        socket.send(message, from.port, from.address);
      });
    });
    return;
  }
  if (impl === "node") {
    let got = 0;
    const done = Promise.withResolvers<void>();
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on("data", (data) => {
        if (!sink) return void socket.write(data);
        got += data.length;
        while (got >= BATCH_BYTES) {
          got -= BATCH_BYTES;
          socket.write(ACK);
        }
      });
      socket.on("close", () => done.resolve());
      socket.on("error", () => done.resolve());
    });
    await new Promise<void>((r) =>
      isUnix(t) ? server.listen(address, r) : server.listen(0, HOST, r)
    );
    const a = server.address();
    ready(typeof a === "object" && a !== null ? a.port : 0);
    await done.promise;
    server.close();
    return;
  }
  throw new TypeError(`no ${impl} peer for ${t}`);
}

const ACK = new Uint8Array([0x6b]);

async function writeAll(conn: DenoConn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

// --- clients ----------------------------------------------------------

/** One round trip of `message`, for the client's impl. */
type RoundTrip = () => void | Promise<void>;
/** Writes one batch of BATCH_BYTES and waits for its ack. */
type Batch = () => void | Promise<void>;

async function ipckitClient(
  impl: "sync" | "async",
  t: Transport,
  address: string,
  bytes: number,
): Promise<{ roundTrip: RoundTrip; batch: Batch; close: () => void }> {
  const message = new Uint8Array(bytes).fill(0x5a);
  const buffer = new Uint8Array(Math.max(bytes, 65536));
  const chunk = new Uint8Array(65536).fill(0x5a);
  if (isDatagram(t)) {
    const local: SocketEndpoint = t === "udp"
      ? { hostname: HOST, port: 0 }
      : { path: `${address}.client` };
    const socket: DatagramSocket = bindDatagram(local);
    socket.connect(endpoint(t, address));
    const close = () => {
      socket.trySend(new Uint8Array(0));
      socket.close();
    };
    const batch = () => {
      throw new Error("no throughput on datagrams");
    };
    return impl === "sync"
      ? {
        roundTrip: () => {
          socket.sendSync(message);
          socket.receiveSync();
        },
        batch,
        close,
      }
      : {
        roundTrip: async () => {
          await socket.send(message);
          await socket.receive();
        },
        batch,
        close,
      };
  }
  const conn: SocketConnection = await connect({
    ...endpoint(t, address),
    type: t === "unix-seqpacket" ? "seqpacket" : "stream",
  });
  const close = () => conn.close();
  if (impl === "sync") {
    return {
      roundTrip: () => {
        conn.writeSync(message);
        let got = conn.readSync(buffer)!;
        while (got < bytes) got += conn.readSync(buffer.subarray(got))!;
      },
      batch: () => {
        for (let sent = 0; sent < BATCH_BYTES; sent += chunk.length) {
          conn.writeSync(chunk);
        }
        conn.readSync(buffer.subarray(0, 1));
      },
      close,
    };
  }
  return {
    roundTrip: async () => {
      await conn.write(message);
      let got = (await conn.read(buffer))!;
      while (got < bytes) got += (await conn.read(buffer.subarray(got)))!;
    },
    batch: async () => {
      for (let sent = 0; sent < BATCH_BYTES; sent += chunk.length) {
        await conn.write(chunk);
      }
      await conn.read(buffer.subarray(0, 1));
    },
    close,
  };
}

async function messageClient(
  impl: "framed" | "rpc",
  t: Transport,
  address: string,
  bytes: number,
): Promise<{ roundTrip: RoundTrip; batch: Batch; close: () => void }> {
  const message = new Uint8Array(bytes).fill(0x5a);
  const conn = await connect(endpoint(t, address));
  const batch = () => {
    throw new Error("no throughput for framed and rpc");
  };
  if (impl === "rpc") {
    const client = new RpcClient<{ echo: (x: Uint8Array) => Uint8Array }>(
      conn,
    );
    return {
      roundTrip: async () => {
        await client.call("echo", message);
      },
      batch,
      close: () => void client.close(),
    };
  }
  const messages = framed(conn);
  return {
    roundTrip: async () => {
      await messages.send(message);
      await messages.receive();
    },
    batch,
    close: () => void messages.close(),
  };
}

async function nativeClient(
  impl: "native" | "node",
  t: Transport,
  address: string,
  bytes: number,
): Promise<{ roundTrip: RoundTrip; batch: Batch; close: () => void }> {
  const message = new Uint8Array(bytes).fill(0x5a);
  const chunk = new Uint8Array(65536).fill(0x5a);
  const arrivals = new Arrivals();
  if (impl === "native" && g.Deno) {
    const conn = await g.Deno.connect(
      isUnix(t) ? { transport: "unix", path: address } : {
        hostname: HOST,
        port: +address,
      },
    );
    conn.setNoDelay?.(true);
    const buffer = new Uint8Array(Math.max(bytes, 65536));
    return {
      roundTrip: async () => {
        await writeAll(conn, message);
        let got = (await conn.read(buffer))!;
        while (got < bytes) got += (await conn.read(buffer.subarray(got)))!;
      },
      batch: async () => {
        for (let sent = 0; sent < BATCH_BYTES; sent += chunk.length) {
          await writeAll(conn, chunk);
        }
        await conn.read(buffer.subarray(0, 1));
      },
      close: () => conn.close(),
    };
  }
  if (impl === "native" && g.Bun) {
    const drained: (() => void)[] = [];
    const socket = await g.Bun.connect({
      ...(isUnix(t) ? { unix: address } : { hostname: HOST, port: +address }),
      socket: {
        data: (_socket, data) => arrivals.feed(data.length),
        drain: () => drained.shift()?.(),
      },
    });
    const writeAllBun = async (data: Uint8Array) => {
      let at = 0;
      while (at < data.length) {
        const n = socket.write(data.subarray(at));
        at += Math.max(0, n);
        if (at < data.length) {
          await new Promise<void>((r) => drained.push(r));
        }
      }
    };
    return {
      roundTrip: async () => {
        const arrived = arrivals.expect(bytes);
        await writeAllBun(message);
        await arrived;
      },
      batch: async () => {
        const acked = arrivals.expect(1);
        for (let sent = 0; sent < BATCH_BYTES; sent += chunk.length) {
          await writeAllBun(chunk);
        }
        await acked;
      },
      close: () => socket.end(),
    };
  }
  if (t === "udp") {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, HOST, r));
    await new Promise<void>((r) => socket.connect(+address, HOST, r));
    socket.on("message", (m) => arrivals.feed(m.length));
    return {
      roundTrip: async () => {
        const arrived = arrivals.expect(bytes);
        socket.send(message);
        await arrived;
      },
      batch: () => {
        throw new Error("no throughput on datagrams");
      },
      close: () => {
        socket.send(new Uint8Array(0), () => socket.close());
      },
    };
  }
  const socket = isUnix(t) ? net.connect(address) : net.connect(+address, HOST);
  await new Promise((r) => socket.once("connect", r));
  socket.setNoDelay(true);
  socket.on("data", (d) => arrivals.feed(d.length));
  return {
    roundTrip: async () => {
      const arrived = arrivals.expect(bytes);
      socket.write(message);
      await arrived;
    },
    batch: async () => {
      const acked = arrivals.expect(1);
      for (let sent = 0; sent < BATCH_BYTES; sent += chunk.length) {
        if (!socket.write(chunk)) {
          await new Promise((r) => socket.once("drain", r));
        }
      }
      await acked;
    },
    close: () => socket.end(),
  };
}

async function client(
  impl: Impl,
  t: Transport,
  address: string,
  kind: string,
  time: number,
  bytes: number,
) {
  const c = impl === "sync" || impl === "async"
    ? await ipckitClient(impl, t, address, bytes)
    : impl === "framed" || impl === "rpc"
    ? await messageClient(impl, t, address, bytes)
    : await nativeClient(impl, t, address, bytes);
  const async = impl !== "sync";
  try {
    if (kind === "latency") {
      await printRoundTrips(c.roundTrip, async, time);
      return;
    }
    await c.batch(); // untimed: the peer is up, buffers are warm
    const bench = new Bench({ time, warmupTime: 300, throws: true });
    bench.add("batch", c.batch, { async });
    await bench.run();
    const result = bench.tasks[0]!.result;
    if (!("latency" in result)) throw new Error(`Benchmark ${result.state}`);
    const { p50, samplesCount } = result.latency;
    console.log(JSON.stringify({
      gbps: BATCH_BYTES / (p50 * 1e6),
      batches: samplesCount,
      batch: BATCH_BYTES,
    }));
  } finally {
    c.close();
  }
}

if (import.meta.main) {
  const [role, impl, transport, address, kind, time, bytes] = process.argv
    .slice(2);
  if (role === "peer") {
    await peer(impl as Impl, transport as Transport, address!, kind!);
  } else if (role === "client") {
    await client(
      impl as Impl,
      transport as Transport,
      address!,
      kind!,
      Number(time),
      Number(bytes),
    );
  } else {
    throw new TypeError(`Unknown role: ${role}`);
  }
  process.exit(0);
}
