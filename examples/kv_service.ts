// A small service: a key-value cache that one process keeps in memory and
// others use through remote calls over a Unix socket.
//
//   deno run --allow-ffi examples/kv_service.ts serve &   # the service
//   bun run examples/kv_service.ts set colour teal        # -> ok
//   bun run examples/kv_service.ts get colour             # -> teal
//   bun run examples/kv_service.ts stats                  # -> {"keys":1,"calls":3}
//   bun run examples/kv_service.ts stop                   # the service exits
//
// The socket is a file (/tmp/ipckit_kv.sock, or the path given last) made
// with mode 0600: only its owner's processes may connect, and the service
// learns each client's pid and uid from the kernel (SO_PEERCRED), not from
// what the client says. Calls are framed messages (JSON, with raw bytes
// allowed); a handler's thrown error reaches the caller as an RpcError with
// the same name, message and code. The file goes when the service closes.
import process from "node:process";
import {
  connect,
  listen,
  RpcClient,
  RpcError,
  RpcServer,
} from "../socket/mod.ts";

const [command, ...rest] = process.argv.slice(2);

const cache = new Map<string, string>();
let calls = 0;
let stopping: (() => void) | undefined;

/** The service's methods: what a client may call, with its params. */
const handlers = {
  get: (key: string): string | null => {
    calls++;
    return cache.get(key) ?? null;
  },
  set: ([key, value]: [string, string]): "ok" => {
    calls++;
    if (typeof key !== "string" || key === "") {
      throw Object.assign(new Error("a key is a non-empty string"), {
        code: "EBADKEY",
      });
    }
    cache.set(key, String(value));
    return "ok";
  },
  stats: () => ({ keys: cache.size, calls: ++calls }),
  stop: (): "stopping" => {
    setTimeout(() => stopping?.(), 0); // after this reply has gone out
    return "stopping";
  },
};

async function serve(path: string): Promise<void> {
  await using listener = await listen({ path, mode: 0o600 });
  await using server = new RpcServer(handlers);
  stopping = () => void listener.close();
  console.log(`serving on ${path}`);
  for await (const conn of listener) {
    const { pid, uid } = conn.peer; // from the kernel, not from the client
    console.log(`client pid ${pid} uid ${uid}`);
    void server.serve(conn);
  }
  console.log("stopped");
}

async function call(path: string, method: string, args: string[]) {
  await using client = new RpcClient<typeof handlers>(await connect({ path }));
  const options = { timeout: 5000 };
  switch (method) {
    case "get":
      return await client.call("get", args[0] ?? "", options);
    case "set":
      return await client.call(
        "set",
        [args[0] ?? "", args[1] ?? ""],
        options,
      );
    case "stats":
      return JSON.stringify(await client.call("stats", undefined, options));
    default:
      return await client.call("stop", undefined, options);
  }
}

const PATH = "/tmp/ipckit_kv.sock";
if (command === "serve") {
  await serve(rest[0] ?? PATH);
} else if (
  command === "get" || command === "set" || command === "stats" ||
  command === "stop"
) {
  const arity = { get: 1, set: 2, stats: 0, stop: 0 }[command];
  try {
    console.log(await call(rest[arity] ?? PATH, command, rest.slice(0, arity)));
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    console.log(`refused: ${error.message} (${error.code})`);
    process.exitCode = 1;
  }
} else {
  console.error(
    "usage: kv_service.ts serve [PATH] | get KEY [PATH] | set KEY VALUE [PATH] | stats [PATH] | stop [PATH]",
  );
  process.exit(2);
}
