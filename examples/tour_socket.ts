// The tour's socket stops, and the peer operations they use. Servers listen
// on abstract names (no file to clean up) except the file-mode stop, whose
// socket file the tour checks is gone.
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cString, libc } from "../ffi/mod.ts";
import {
  bindDatagram,
  connect,
  IpcError,
  listen,
  type SocketConnection,
  type SocketConnectionType,
  type SocketEndpoint,
} from "../socket/mod.ts";
import {
  check,
  type PeerOp,
  percentile,
  type Runtime,
  type Stop,
  type TourModule,
} from "./_tour.ts";

const decoder = new TextDecoder();

function abstractName(): string {
  return `ipckit_tour_${crypto.randomUUID().slice(0, 8)}`;
}

/** Connects, retrying while the server is not listening yet. */
async function connectSoon(
  address: SocketEndpoint,
  type: SocketConnectionType,
): Promise<SocketConnection> {
  const deadline = performance.now() + 5000;
  for (;;) {
    try {
      return await connect({ ...address, type, timeout: 5000 });
    } catch (e) {
      const waiting = e instanceof IpcError &&
        (e.code === "ECONNREFUSED" || e.code === "ENOENT");
      if (!waiting || performance.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Listens, accepts one connection and echoes it until it ends. */
  "socket.echo": async (
    { address, type }: { address: SocketEndpoint; type: SocketConnectionType },
  ) => {
    await using server = await listen({ ...address, type });
    await using conn = await server.accept({ timeout: 5000 });
    let n = 0;
    for (;;) {
      const chunk = await conn.receive({ timeout: 5000 });
      if (chunk === null) return n;
      await conn.send(chunk);
      n++;
    }
  },

  /** Sends records of these sizes and returns the sizes that came back. */
  "socket.records": async (
    { address, sizes }: { address: SocketEndpoint; sizes: number[] },
  ) => {
    await using conn = await connectSoon(address, "seqpacket");
    const back: number[] = [];
    for (const size of sizes) {
      await conn.send(new Uint8Array(size).fill(size & 255));
      const record = await conn.receive({ timeout: 5000 });
      if (record === null) throw new Error("the server hung up");
      if (record.some((b) => b !== (size & 255))) throw new Error("corrupt");
      back.push(record.length);
    }
    return back;
  },

  /** Times round trips of `size` bytes over a Unix stream; µs. */
  "socket.ping": async (
    { address, count, warmup, size }: {
      address: SocketEndpoint;
      count: number;
      warmup: number;
      size: number;
    },
  ) => {
    await using conn = await connectSoon(address, "stream");
    const message = new Uint8Array(size).fill(0x2a);
    const buffer = new Uint8Array(size);
    const times: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      const start = performance.now();
      await conn.write(message);
      for (let got = 0; got < size;) {
        const n = await conn.read(buffer.subarray(got), { timeout: 5000 });
        if (n === null) throw new Error("the echo hung up");
        got += n;
      }
      if (i >= warmup) times.push((performance.now() - start) * 1000);
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
  },

  /** Sends a memfd holding `text` over seqpacket (SCM_RIGHTS). */
  "socket.send-fd": async (
    { address, text }: { address: SocketEndpoint; text: string },
  ) => {
    await using conn = await connectSoon(address, "seqpacket");
    const fd = libc().memfd_create(cString("ipckit-tour"), 1);
    const bytes = new TextEncoder().encode(text);
    libc().write(fd, bytes, bytes.length);
    await conn.sendFds([fd], "file");
    libc().close(fd);
    await conn.receive({ timeout: 5000 }); // until the receiver hangs up
    return true;
  },

  /** Accepts one connection, receives a descriptor, reads it with pread. */
  "socket.receive-fd": async ({ address }: { address: SocketEndpoint }) => {
    await using server = await listen({ ...address, type: "seqpacket" });
    await using conn = await server.accept({ timeout: 5000 });
    const got = await conn.receiveFds({ timeout: 5000 });
    if (got === null || got.fds.length !== 1) throw new Error("no descriptor");
    const buffer = new Uint8Array(256);
    const n = libc().pread(got.fds[0]!, buffer, 256, 0);
    libc().close(got.fds[0]!);
    return decoder.decode(buffer.subarray(0, n));
  },

  /** Connects to the tour's server and reports its own pid. */
  "socket.hello": async ({ address }: { address: SocketEndpoint }) => {
    await using conn = await connectSoon(address, "stream");
    await conn.write("hello");
    await conn.receive({ timeout: 5000 });
    return libc().getpid();
  },

  /** Sends `count` UDP datagrams over IPv6 to `to`; returns the echoes. */
  "socket.udp-send": async (
    { to, count }: { to: SocketEndpoint; count: number },
  ) => {
    using socket = bindDatagram({ hostname: "::1", port: 0 });
    const back: string[] = [];
    for (let i = 0; i < count; i++) {
      await socket.send(`datagram ${i}`, to);
      back.push(decoder.decode((await socket.receive({ timeout: 5000 })).data));
    }
    return back;
  },
};

// ---- stops -------------------------------------------------------------------

function records(from: Runtime, to: Runtime): Stop {
  return {
    name: "socket/seqpacket",
    from,
    to,
    what: "records of 1 B, 30 KB and 5 B come back whole, in order",
    async run(tour) {
      const address = { abstract: abstractName() };
      const echo = tour.peer(to).call("socket.echo", {
        address,
        type: "seqpacket",
      });
      const sizes = [1, 30_000, 5];
      const back = await tour.peer(from).call<number[]>("socket.records", {
        address,
        sizes,
      });
      await echo;
      check(back.join() === sizes.join(), `came back as ${back.join(", ")}`);
    },
  };
}

function descriptor(from: Runtime, to: Runtime): Stop {
  return {
    name: "socket/scm-rights",
    from,
    to,
    what: "a memfd sent with SCM_RIGHTS is read by the receiver with pread",
    async run(tour) {
      const address = { abstract: abstractName() };
      const text = `written by ${from}`;
      const receiving = tour.peer(to).call<string>("socket.receive-fd", {
        address,
      });
      const sending = tour.peer(from).call("socket.send-fd", { address, text });
      const [read] = await Promise.all([receiving, sending]);
      check(read === text, `read ${JSON.stringify(read)}`);
    },
  };
}

function credentials(runtime: Runtime): Stop {
  return {
    name: "socket/peer-credentials",
    from: runtime,
    to: "-",
    what: "a 0600 socket file; the server sees the client's real pid",
    async run(tour) {
      const dir = mkdtempSync(join(tmpdir(), "ipckit-tour-"));
      const path = join(dir, "tour.sock");
      try {
        let pid: number;
        let peerPid: number;
        {
          await using server = await listen({ path, mode: 0o600 });
          const mode = statSync(path).mode & 0o777;
          check(mode === 0o600, `the file's mode is ${mode.toString(8)}`);
          const hello = tour.peer(runtime).call<number>("socket.hello", {
            address: { path },
          });
          await using conn = await server.accept({ timeout: 5000 });
          await conn.receive({ timeout: 5000 });
          peerPid = conn.peer.pid;
          conn.close();
          pid = await hello;
        }
        check(peerPid === pid, `SO_PEERCRED said ${peerPid}, the peer ${pid}`);
        check(!existsSync(path), "the socket file is still there");
        return `mode 0600, SO_PEERCRED pid ${peerPid} = the ${runtime} peer's, file removed on close`;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function udp(runtime: Runtime): Stop {
  return {
    name: "socket/udp6",
    from: runtime,
    to: "-",
    what: "3 UDP datagrams over IPv6 echoed in order",
    async run(tour) {
      using echo = bindDatagram({ hostname: "::1", port: 0 });
      const to = echo.localAddress as SocketEndpoint;
      const sending = tour.peer(runtime).call<string[]>("socket.udp-send", {
        to,
        count: 3,
      });
      for (let i = 0; i < 3; i++) {
        const { data, from } = await echo.receive({ timeout: 5000 });
        await echo.send(data, from as SocketEndpoint);
      }
      const back = await sending;
      check(
        back.join() === "datagram 0,datagram 1,datagram 2",
        `got ${back.join(", ")}`,
      );
    },
  };
}

function latency(pinger: Runtime, echoer: Runtime): Stop {
  return {
    name: "socket/latency",
    from: pinger,
    to: echoer,
    what: "round trips of 64 B over a Unix stream (async read/write)",
    async run(tour) {
      const address = { abstract: abstractName() };
      const count = 2000;
      const warmup = 200;
      const echo = tour.peer(echoer).call("socket.echo", {
        address,
        type: "stream",
      }, 20_000);
      const { p50, p99 } = await tour.peer(pinger).call<
        { p50: number; p99: number }
      >("socket.ping", { address, count, warmup, size: 64 }, 20_000);
      await echo;
      check(p50 < 5000, `median round trip ${p50.toFixed(0)} µs`);
      return `${count} round trips of 64 B: p50 ${p50.toFixed(1)} µs, p99 ${
        p99.toFixed(0)
      } µs`;
    },
  };
}

/** The socket part of the tour. */
export const socket: TourModule = {
  examples: [
    {
      file: "examples/kv_service.ts",
      what:
        "a key-value service over a Unix socket with remote calls and peer credentials",
      run:
        "bun run examples/kv_service.ts serve, then: bun run examples/kv_service.ts set colour teal",
    },
  ],
  stops: [
    records("deno", "bun"),
    records("bun", "deno"),
    descriptor("deno", "bun"),
    descriptor("bun", "deno"),
    credentials("deno"),
    credentials("bun"),
    udp("deno"),
    udp("bun"),
    latency("bun", "deno"),
    latency("deno", "bun"),
  ],
  ops,
};
