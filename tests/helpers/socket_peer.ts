// A peer for the socket tests, run under Deno or Bun. Addresses are JSON
// ({"path":...}, {"abstract":...}, {"hostname":...,"port":...}).
//
//   server <type> <address> <n>      listens, prints "ready <address>", echoes
//                                    n connections at once (bytes for stream,
//                                    records for seqpacket) until each ends,
//                                    prints "done <n>"
//   client <type> <address> <n>      connects, sends n records (sizes 1 to
//                                    30000; a stream sends the same bytes),
//                                    checks the echo byte for byte, prints
//                                    "ok <pid> <uid>"
//   clients <type> <address> <c> <n>  the same as client over c connections
//                                    at once, prints "ok <c>"
//   dgram-echo <address>             binds, prints "ready <address>", echoes
//                                    each datagram to its sender until "quit"
//   dgram-client <to> <bind|-> <n>   sends n datagrams, checks each echo
//                                    (content and order), prints "ok"
//   creds <address>                  connects, writes "<pid> <uid> <gid>\n",
//                                    waits for the end, exits
//   die-mid <type> <address> <n>     connects, sends n bytes (one record for
//                                    seqpacket), then dies by SIGKILL
//   sink <address>                   connects, reads to the end, prints
//                                    "<bytes> <checksum>" (see checksum())
//   send-fd <type> <address> <text>  connects, sends a memfd holding <text>
//                                    with SCM_RIGHTS and the bytes "fd",
//                                    waits for the end
//   recv-fd <type> <address>        listens, prints "ready", accepts one
//                                    connection, receives descriptors and
//                                    prints "got <data> <count> <contents of
//                                    the first, read with pread>"
//   connect-expect <address>         connects once; prints "connected" or
//                                    the error's code
import process from "node:process";
import { cString, libc } from "../../ffi/mod.ts";
import {
  bindDatagram,
  connect,
  IpcError,
  listen,
  type SocketConnection,
  type SocketConnectionType,
  type SocketEndpoint,
} from "../../socket/mod.ts";
import { checksum, recordBytes } from "./socket_pattern.ts";

const [command, ...args] = process.argv.slice(2);
const arg = (i: number): string => {
  const value = args[i];
  if (value === undefined) throw new Error(`argument ${i + 1} missing`);
  return value;
};
const address = (text: string) => JSON.parse(text) as SocketEndpoint;

async function echo(conn: SocketConnection): Promise<void> {
  for (;;) {
    const chunk = await conn.receive();
    if (chunk === null) break;
    await conn.send(chunk);
  }
  conn.close();
}

async function readExactly(
  conn: SocketConnection,
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Error(`end after ${got} of ${n} bytes`);
    got += r;
  }
  return out;
}

/** Sends n records (from record `first`) over one connection, checks each echo. */
async function exchange(
  type: SocketConnectionType,
  to: string,
  n: number,
  first: number,
): Promise<void> {
  const conn = await connect({ ...address(to), type, timeout: 30_000 });
  for (let i = first; i < first + n; i++) {
    const record = recordBytes(i);
    await conn.send(record);
    const back = type === "seqpacket"
      ? await conn.receive()
      : await readExactly(conn, record.length);
    if (back === null || !same(back, record)) {
      throw new Error(`record ${i} (${record.length} bytes) came back wrong`);
    }
  }
  conn.closeWrite();
  if ((await conn.receive()) !== null) throw new Error("bytes after the end");
  conn.close();
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

switch (command) {
  case "server": {
    const type = arg(0) as SocketConnectionType;
    const n = Number(arg(2));
    const server = await listen({ ...address(arg(1)), type, mode: 0o666 });
    console.log(`ready ${JSON.stringify(server.address)}`);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n; i++) pending.push(echo(await server.accept()));
    await Promise.all(pending);
    server.close();
    console.log(`done ${n}`);
    break;
  }
  case "client": {
    await exchange(arg(0) as SocketConnectionType, arg(1), Number(arg(2)), 0);
    console.log(`ok ${process.pid} ${libc().getuid()}`);
    break;
  }
  case "clients": {
    const type = arg(0) as SocketConnectionType;
    const [c, n] = [Number(arg(2)), Number(arg(3))];
    await Promise.all(
      Array.from({ length: c }, (_, k) => exchange(type, arg(1), n, k)),
    );
    console.log(`ok ${c}`);
    break;
  }
  case "dgram-echo": {
    const socket = bindDatagram(address(arg(0)), { mode: 0o666 });
    console.log(`ready ${JSON.stringify(socket.localAddress)}`);
    for (;;) {
      const { data, from } = await socket.receive();
      if (new TextDecoder().decode(data) === "quit") break;
      await socket.send(data, from as SocketEndpoint);
    }
    socket.close();
    break;
  }
  case "dgram-client": {
    const to = address(arg(0));
    const n = Number(arg(2));
    const family = "hostname" in to
      ? (to.hostname.includes(":") ? "ipv6" : "ipv4")
      : "unix";
    const socket = arg(1) === "-"
      ? bindDatagram(
        family === "unix" ? undefined : {
          hostname: family === "ipv6" ? "::1" : "127.0.0.1",
          port: 0,
        },
        { family },
      )
      : bindDatagram(address(arg(1)));
    for (let i = 0; i < n; i++) {
      const record = recordBytes(i).subarray(0, 1 + (i * 131) % 8000);
      await socket.send(record, to);
      const { data } = await socket.receive({ timeout: 10_000 });
      if (!same(data, record)) throw new Error(`datagram ${i} came back wrong`);
    }
    socket.close();
    console.log("ok");
    break;
  }
  case "creds": {
    const conn = await connect({ ...address(arg(0)), timeout: 10_000 });
    // getgid is not bound: the test compares the gid with its own.
    await conn.write(`${process.pid} ${libc().getuid()}\n`);
    await conn.receive();
    conn.close();
    break;
  }
  case "die-mid": {
    const type = arg(0) as SocketConnectionType;
    const conn = await connect({ ...address(arg(1)), type, timeout: 10_000 });
    await conn.send(new Uint8Array(Number(arg(2))).fill(7));
    process.kill(process.pid, "SIGKILL");
    break;
  }
  case "sink": {
    const conn = await connect({ ...address(arg(0)), timeout: 10_000 });
    const buffer = new Uint8Array(1 << 20);
    let total = 0;
    let h: [number, number] = [0, 0];
    for (;;) {
      let got = 0;
      let ended = false;
      while (got < buffer.length) {
        const n = conn.readSync(buffer.subarray(got));
        if (n === null) {
          ended = true;
          break;
        }
        got += n;
      }
      h = checksum(h, buffer.subarray(0, got));
      total += got;
      if (ended) break;
    }
    conn.close();
    console.log(`${total} ${h.join(" ")}`);
    break;
  }
  case "send-fd": {
    const type = arg(0) as SocketConnectionType;
    const conn = await connect({ ...address(arg(1)), type, timeout: 10_000 });
    const fd = libc().memfd_create(cString("ipckit-peer"), 1 /* CLOEXEC */);
    const text = new TextEncoder().encode(arg(2));
    libc().write(fd, text, text.length);
    await conn.sendFds([fd], "fd");
    libc().close(fd);
    await conn.receive();
    conn.close();
    break;
  }
  case "recv-fd": {
    const type = arg(0) as SocketConnectionType;
    const server = await listen({ ...address(arg(1)), type });
    console.log("ready");
    const conn = await server.accept({ timeout: 10_000 });
    server.close();
    const got = await conn.receiveFds({ timeout: 10_000 });
    if (got === null) throw new Error("the end before any descriptor");
    const buffer = new Uint8Array(256);
    const n = libc().pread(got.fds[0]!, buffer, 256, 0);
    for (const fd of got.fds) libc().close(fd);
    const decoder = new TextDecoder();
    console.log(
      `got ${decoder.decode(got.data)} ${got.fds.length} ${
        decoder.decode(buffer.subarray(0, n))
      }`,
    );
    conn.close();
    break;
  }
  case "connect-expect": {
    try {
      const conn = await connect({ ...address(arg(0)), timeout: 10_000 });
      conn.close();
      console.log("connected");
    } catch (error) {
      if (!(error instanceof IpcError)) throw error;
      console.log(error.code);
    }
    break;
  }
  case "listen-expect": {
    try {
      const server = await listen(address(arg(0)));
      server.close();
      console.log("listening");
    } catch (error) {
      if (!(error instanceof IpcError)) throw error;
      console.log(error.code);
    }
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}
