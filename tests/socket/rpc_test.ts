// RpcServer / RpcClient: calls, concurrency with replies out of order, bytes,
// errors (name, message, code, data), unknown methods, timeouts and aborts
// that reach the handler, connection loss, and a Deno server with a Bun
// client and the reverse, over a Unix socket and over TCP.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  connect,
  framed,
  listen,
  RPC_UNKNOWN_METHOD,
  RpcClient,
  RpcError,
  type RpcHandlers,
  RpcServer,
  socketPair,
} from "../../socket/mod.ts";
import {
  CURRENT,
  killPeers,
  nextLine,
  RUNTIMES,
  startPeer,
  testDir,
} from "../helpers/peer.ts";
import { assertDomError, assertIpcError } from "../helpers/assert.ts";
import { HANDLERS } from "../helpers/rpc_handlers.ts";

afterEach(killPeers);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client and a server on the two ends of a socket pair. */
function pair<T extends RpcHandlers>(
  handlers: T,
  options: { maxMessageSize?: number; timeout?: number } = {},
) {
  const [a, b] = socketPair("stream");
  const server = new RpcServer(handlers, options);
  const serving = server.serve(a);
  const client = new RpcClient<T>(b, options);
  return { server, serving, client };
}

/** Resolves when `signal` aborts, with its reason. */
const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), {
      once: true,
    })
  );

test("RpcClient calls handlers: params, results, bytes, undefined", async () => {
  const { server, client } = pair({
    ...HANDLERS,
    nothing: () => undefined,
    context: (_: unknown, c: { method: string; id: number }) => c.method,
  });
  await using _s = server;
  await using _c = client;
  assert.equal(await client.call("add", [2, 3]), 5);
  assert.deepEqual(await client.call("echo", { a: [1, "x", null, true] }), {
    a: [1, "x", null, true],
  });
  const data = new Uint8Array(70_000).map((_, i) => i & 255);
  const result = await client.call("bytes", data);
  assert.equal(result.length, 70_000);
  assert.deepEqual(result.reversed, data.slice().reverse());
  const echoed = await client.call("echo", {
    deep: { list: [new Uint8Array([9]), new Uint8Array(0)] },
    "@ipckit/bytes": "a key of that name, beside others, is left alone",
  }) as Record<string, unknown>;
  assert.deepEqual(echoed, {
    deep: { list: [new Uint8Array([9]), new Uint8Array(0)] },
    "@ipckit/bytes": "a key of that name, beside others, is left alone",
  });
  assert.equal(await client.call("nothing"), undefined);
  assert.equal(await client.call("context"), "context");
  assert.equal(client.pending, 0);
});

test("RpcClient runs 200 calls at once; replies come back out of order, each to its call", async () => {
  const order: number[] = [];
  const { server, client } = pair({
    delayed: async (n: number) => {
      await sleep((n * 7) % 23);
      order.push(n);
      return n * 2;
    },
  });
  await using _s = server;
  await using _c = client;
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, n) => client.call("delayed", n)),
  );
  assert.deepEqual(results, Array.from({ length: 200 }, (_, n) => n * 2));
  assert.notDeepEqual(order, [...order].sort((a, b) => a - b));
});

test("RpcClient: a handler's throw arrives with name, message, code and data", async () => {
  const { server, client } = pair({
    ...HANDLERS,
    plain: () => {
      throw "a string"; // not an Error
    },
    async rejects() {
      await sleep(1);
      throw new TypeError("bad type");
    },
  });
  await using _s = server;
  await using _c = client;
  await assert.rejects(client.call("fail", "EBUSY"), (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.name, "RangeError");
    assert.equal(e.message, "failed with EBUSY");
    assert.equal(e.code, "EBUSY");
    assert.deepEqual(e.data, { detail: [1, 2] });
    assert.equal(e.method, "fail");
    return true;
  });
  await assert.rejects(client.call("plain"), (e: unknown) => {
    assert.ok(e instanceof RpcError);
    assert.equal(e.name, "Error");
    assert.equal(e.message, "a string");
    assert.equal(e.code, undefined);
    return true;
  });
  await assert.rejects(client.call("rejects"), {
    name: "TypeError",
    message: "bad type",
  });
  assert.equal(await client.call("add", [1, 2]), 3, "still serving");
});

test("RpcClient: unknown methods (inherited names included) are RpcError ERR_RPC_UNKNOWN_METHOD", async () => {
  const { server, client } = pair(HANDLERS);
  await using _s = server;
  await using _c = client;
  for (const method of ["nope", "toString", "__proto__", "constructor"]) {
    await assert.rejects(
      client.call(method as "add"),
      (e: unknown) => {
        assert.ok(e instanceof RpcError, String(e));
        assert.equal(e.code, RPC_UNKNOWN_METHOD);
        assert.equal(e.name, "RpcError");
        assert.match(e.message, new RegExp(`Unknown method "${method}"`));
        return true;
      },
    );
  }
});

test("RpcClient: a timeout rejects with TimeoutError and aborts the handler", async () => {
  let handlerSignal: AbortSignal | undefined;
  const { server, client } = pair({
    hang: (_: unknown, { signal }: { signal: AbortSignal }) => {
      handlerSignal = signal;
      return new Promise(() => {});
    },
    add: HANDLERS.add,
  });
  await using _s = server;
  await using _c = client;
  await assert.rejects(
    client.call("hang", undefined, { timeout: 30 }),
    (e: unknown) => {
      assertDomError("TimeoutError")(e);
      assert.match((e as Error).message, /RPC call "hang"/);
      return true;
    },
  );
  assert.ok(handlerSignal);
  const reason = await aborted(handlerSignal);
  assert.equal((reason as DOMException).name, "AbortError");
  assert.equal(client.pending, 0);
  assert.equal(await client.call("add", [1, 1]), 2);
});

test("RpcClient: the client's default timeout applies to calls without one", async () => {
  const { server, client } = pair({ hang: () => new Promise(() => {}) }, {
    timeout: 20,
  });
  await using _s = server;
  await using _c = client;
  await assert.rejects(client.call("hang"), assertDomError("TimeoutError"));
});

test("RpcClient: an abort rejects with the signal's reason and aborts the handler", async () => {
  let handlerSignal: AbortSignal | undefined;
  const started = Promise.withResolvers<void>();
  const { server, client } = pair({
    hang: (_: unknown, { signal }: { signal: AbortSignal }) => {
      handlerSignal = signal;
      started.resolve();
      return new Promise(() => {});
    },
  });
  await using _s = server;
  await using _c = client;
  const controller = new AbortController();
  const call = client.call("hang", undefined, { signal: controller.signal });
  await started.promise;
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(call, (e) => e === reason);
  await aborted(handlerSignal!);
  await assert.rejects(
    client.call("hang", undefined, { signal: AbortSignal.abort() }),
    assertDomError("AbortError"),
  );
});

test("RpcClient: closing the server rejects pending calls with ECONNRESET; later calls too", async () => {
  let handlerSignal: AbortSignal | undefined;
  const started = Promise.withResolvers<void>();
  const { server, serving, client } = pair({
    hang: (_: unknown, { signal }: { signal: AbortSignal }) => {
      handlerSignal = signal;
      started.resolve();
      return new Promise(() => {});
    },
  });
  await using _c = client;
  const calls = [client.call("hang"), client.call("hang")];
  // Observed now: they reject while the server closes, before the checks.
  for (const call of calls) call.catch(() => {});
  await started.promise;
  assert.equal(server.connections, 1);
  await server.close();
  await serving;
  assert.equal(server.connections, 0);
  assert.ok(handlerSignal?.aborted);
  for (const call of calls) {
    await assert.rejects(call, (e: unknown) => {
      assert.ok(e instanceof RpcError, String(e));
      assert.equal(e.code, "ECONNRESET");
      assert.match(e.message, /before the reply to "hang"/);
      return true;
    });
  }
  assert.equal(client.closed, true);
  await assert.rejects(client.call("hang"), { code: "ECONNRESET" });
  const [a, b] = socketPair("stream");
  using _a = a;
  using _b = b;
  await assert.rejects(server.serve(a), assertIpcError("EBADF"));
});

test("RpcClient: close() rejects pending calls with ECONNABORTED, later calls with EBADF", async () => {
  const { server, client } = pair({ hang: () => new Promise(() => {}) });
  await using _s = server;
  const call = client.call("hang");
  call.catch(() => {}); // rejects inside close(), checked below
  await client.close();
  await assert.rejects(call, { name: "RpcError", code: "ECONNABORTED" });
  await assert.rejects(client.call("hang"), assertIpcError("EBADF"));
  await client.close(); // idempotent
});

test("RpcClient: sizes over maxMessageSize and values JSON cannot carry", async () => {
  const { server, client } = pair({
    ...HANDLERS,
    big: () => new Uint8Array(2000),
    bigint: () => 1n,
  }, { maxMessageSize: 1024 });
  await using _s = server;
  await using _c = client;
  await assert.rejects(client.call("echo", new Uint8Array(2000)), RangeError);
  await assert.rejects(client.call("big"), {
    name: "RpcError",
    code: "EMSGSIZE",
  });
  await assert.rejects(client.call("echo", 1n as never), TypeError);
  await assert.rejects(client.call("bigint"), {
    name: "TypeError",
    code: "ERR_RPC_UNSERIALIZABLE",
  });
  assert.equal(await client.call("add", [20, 22]), 42, "still serving");
});

test("RpcServer drops a connection that sends what is not RPC, and says why", async () => {
  const errors: unknown[] = [];
  const server = new RpcServer(HANDLERS, {
    onConnectionError: (e) => errors.push(e),
  });
  await using _s = server;
  const [a, b] = socketPair("stream");
  const serving = server.serve(a);
  await using raw = framed(b);
  await raw.send("not json");
  await serving;
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).name, "WireFormatError");
  assert.match((errors[0] as Error).message, /envelope longer than the frame/);
  assert.equal(await raw.receive(), undefined, "the server closed it");
});

test("RpcServer and RpcClient check their arguments", () => {
  assert.throws(() => new RpcServer(null as never), TypeError);
  assert.throws(() => new RpcServer({ x: 1 } as never), TypeError);
  assert.throws(() => new RpcClient({} as never), TypeError);
  const [a, b] = socketPair("stream");
  using _a = a;
  using _b = b;
  assert.throws(() => new RpcClient(a, { timeout: -1 }), RangeError);
});

test("RpcServer serves 100 clients at once over one Unix listener, each answered exactly", async () => {
  const dir = testDir("rpc-many");
  try {
    const path = join(dir, "many.sock");
    await using listener = await listen({ path });
    await using server = new RpcServer(HANDLERS);
    const accepting = (async () => {
      for await (const conn of listener) server.serve(conn);
    })();
    const clients = await Promise.all(
      Array.from(
        { length: 100 },
        async () => new RpcClient<typeof HANDLERS>(await connect({ path })),
      ),
    );
    try {
      const results = await Promise.all(
        clients.flatMap((client, c) =>
          Array.from(
            { length: 10 },
            (_, i) =>
              client.call("echo", { c, i, bytes: new Uint8Array([c, i]) }),
          )
        ),
      );
      results.forEach((result, k) => {
        const c = Math.floor(k / 10);
        const i = k % 10;
        assert.deepEqual(result, { c, i, bytes: new Uint8Array([c, i]) });
      });
      assert.equal(server.connections, 100);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
    listener.close();
    await accepting;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface ClientReport {
  slept: number;
  sum: number;
  bytesOk: boolean;
  echoOk: boolean;
  peer: { pid: number; runtime: string };
  error: Record<string, unknown>;
  unknown: string;
  timeout: string;
  after: number;
}

function checkReport(report: ClientReport, serverPid: number, runtime: string) {
  assert.deepEqual(report, {
    slept: 50,
    sum: 42,
    bytesOk: true,
    echoOk: true,
    peer: { pid: serverPid, runtime },
    error: {
      name: "RangeError",
      message: "failed with EPEER",
      code: "EPEER",
      data: { detail: [1, 2] },
    },
    unknown: RPC_UNKNOWN_METHOD,
    timeout: "TimeoutError",
    after: 2,
  });
}

for (const other of RUNTIMES) {
  for (const transport of ["unix", "tcp"] as const) {
    test(`RPC over ${transport}: ${CURRENT} server here, ${other} client peer`, async () => {
      const dir = testDir("rpc");
      try {
        await using listener = await listen(
          transport === "unix"
            ? { path: join(dir, "rpc.sock") }
            : { hostname: "127.0.0.1", port: 0 },
        );
        const address = listener.address;
        const where = "path" in address
          ? address.path
          : `127.0.0.1:${(address as { port: number }).port}`;
        await using server = new RpcServer(HANDLERS);
        const peer = startPeer(other, "tests/helpers/rpc_peer.ts", [
          "client",
          where,
        ]);
        const conn = await listener.accept({ timeout: 20_000 });
        server.serve(conn);
        const line = await nextLine(peer);
        checkReport(JSON.parse(line), process.pid, CURRENT);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test(`RPC over ${transport}: ${other} server peer, ${CURRENT} client here`, async () => {
      const dir = testDir("rpc");
      try {
        const peer = startPeer(other, "tests/helpers/rpc_peer.ts", [
          "server",
          transport === "unix" ? join(dir, "rpc.sock") : "127.0.0.1:0",
        ]);
        const port = Number((await nextLine(peer)).split(" ")[1]);
        await using client = new RpcClient<typeof HANDLERS>(
          await connect(
            transport === "unix"
              ? { path: join(dir, "rpc.sock") }
              : { hostname: "127.0.0.1", port },
          ),
        );
        const peerInfo = await client.call("pid");
        assert.deepEqual(peerInfo, { pid: peer.pid, runtime: other });
        assert.equal(await client.call("add", [40, 2]), 42);
        const many = await Promise.all(
          Array.from({ length: 50 }, (_, i) => client.call("sleep", i % 5)),
        );
        assert.deepEqual(many, Array.from({ length: 50 }, (_, i) => i % 5));
        await assert.rejects(client.call("fail", "EX"), {
          name: "RangeError",
          code: "EX",
        });
        // A peer killed mid-call: the call rejects, never hangs.
        const hanging = client.call("sleep", 60_000);
        await sleep(20);
        peer.kill("SIGKILL");
        await assert.rejects(hanging, (e: unknown) => {
          assert.ok(e instanceof RpcError, String(e));
          assert.equal(e.code, "ECONNRESET");
          return true;
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

for (const other of RUNTIMES) {
  test(`RpcServer: a ${other} client killed mid-call aborts its handler`, async () => {
    const dir = testDir("rpc-kill");
    try {
      const path = join(dir, "kill.sock");
      await using listener = await listen({ path });
      const started = Promise.withResolvers<AbortSignal>();
      await using server = new RpcServer({
        sleep: (_: unknown, { signal }: { signal: AbortSignal }) => {
          started.resolve(signal);
          return new Promise(() => {});
        },
      });
      const peer = startPeer(other, "tests/helpers/rpc_peer.ts", [
        "hang",
        path,
      ]);
      const serving = server.serve(await listener.accept({ timeout: 20_000 }));
      assert.equal(await nextLine(peer), "calling");
      const signal = await started.promise;
      peer.kill("SIGKILL");
      await aborted(signal);
      await serving;
      assert.equal(server.connections, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
