// A peer for the framed and RPC tests, run under Deno or Bun:
//
//   rpc_peer.ts server <path|host:port>   serves HANDLERS on a Unix socket
//                                         (a path) or TCP; prints "ready
//                                         <port>" (0 for Unix), serves until
//                                         stdin closes
//   rpc_peer.ts client <path|host:port>   makes a scripted set of calls and
//                                         prints one JSON line of results
//   rpc_peer.ts hang <path|host:port>     calls sleep(60000), prints "calling"
//                                         and waits (the test kills a peer)
//   rpc_peer.ts framed-echo <path>        echoes every framed message it
//                                         receives on one connection, then
//                                         prints "done <count>"
//   rpc_peer.ts framed-partial <path>     sends one whole frame and the
//                                         header and half the body of a
//                                         second, prints "sent", then waits to
//                                         be killed
import process from "node:process";
import { createInterface } from "node:readline";
import {
  connect,
  framed,
  listen,
  RpcClient,
  RpcError,
  RpcServer,
  type SocketEndpoint,
} from "../../socket/mod.ts";
import { HANDLERS } from "./rpc_handlers.ts";

function endpoint(text: string): SocketEndpoint {
  const tcp = /^(.*):(\d+)$/.exec(text);
  if (tcp && !text.startsWith("/")) {
    return { hostname: tcp[1]!, port: Number(tcp[2]) };
  }
  return { path: text };
}

const [mode, where = ""] = process.argv.slice(2);

if (mode === "server") {
  await using listener = await listen(endpoint(where));
  await using server = new RpcServer(HANDLERS);
  const address = listener.address;
  console.log(`ready ${"port" in address ? address.port : 0}`);
  const stdinClosed = new Promise<void>((resolve) => {
    createInterface({ input: process.stdin }).on("close", resolve);
  });
  const accepting = (async () => {
    for await (const conn of listener) server.serve(conn);
  })();
  await stdinClosed;
  await server.close();
  listener.close();
  await accepting;
} else if (mode === "client") {
  await using client = new RpcClient<typeof HANDLERS>(
    await connect(endpoint(where)),
  );
  const data = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
  const calls = await Promise.all([
    client.call("sleep", 50),
    client.call("add", [2, 40]),
    client.call("bytes", data),
    client.call("echo", { nested: [new Uint8Array([1, 2, 3]), "x", null] }),
    client.call("pid"),
  ]);
  let error: Record<string, unknown> = {};
  try {
    await client.call("fail", "EPEER");
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    error = { name: e.name, message: e.message, code: e.code, data: e.data };
  }
  let unknown = "";
  try {
    // @ts-expect-error: not a method of HANDLERS
    await client.call("nope");
  } catch (e) {
    unknown = (e as RpcError).code ?? "";
  }
  let timeout = "";
  try {
    await client.call("sleep", 60_000, { timeout: 20 });
  } catch (e) {
    timeout = (e as Error).name;
  }
  const [slept, sum, bytes, echoed, peer] = calls as [
    number,
    number,
    { length: number; sum: number; reversed: Uint8Array },
    { nested: [Uint8Array, string, null] },
    { pid: number; runtime: string },
  ];
  const expectedSum = data.reduce((s, v) => (s + v) >>> 0, 0);
  console.log(JSON.stringify({
    slept,
    sum,
    bytesOk: bytes.length === data.length && bytes.sum === expectedSum &&
      bytes.reversed instanceof Uint8Array &&
      bytes.reversed.every((v, i) => v === data[data.length - 1 - i]),
    echoOk: echoed.nested[0] instanceof Uint8Array &&
      echoed.nested[0].join() === "1,2,3" && echoed.nested[1] === "x" &&
      echoed.nested[2] === null,
    peer,
    error,
    unknown,
    timeout,
    after: await client.call("add", [1, 1]),
  }));
} else if (mode === "hang") {
  const client = new RpcClient<typeof HANDLERS>(
    await connect(endpoint(where)),
  );
  const call = client.call("sleep", 60_000);
  console.log("calling");
  setInterval(() => {}, 1000); // alive until killed
  await call;
} else if (mode === "framed-echo") {
  await using messages = framed(await connect({ path: where }), {
    maxMessageSize: 64 << 20,
  });
  let count = 0;
  for await (const message of messages) {
    await messages.send(message);
    count++;
  }
  console.log(`done ${count}`);
} else if (mode === "framed-partial") {
  const conn = await connect({ path: where });
  const frame = new Uint8Array(4 + 1000).fill(7);
  new DataView(frame.buffer).setUint32(0, 1000);
  await conn.write(frame);
  const partial = new Uint8Array(4 + 500).fill(9);
  new DataView(partial.buffer).setUint32(0, 1000);
  await conn.write(partial);
  console.log("sent");
  setInterval(() => {}, 1000); // alive until killed
} else {
  throw new TypeError(`unknown mode ${mode}`);
}
