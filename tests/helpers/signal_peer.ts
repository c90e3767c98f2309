// The signal/ tests' peer, run under Deno or Bun:
//   send <pid> <signal> <count> [first]  queue <count> values (first, ...)
//                                         with sendSignal; prints "sent <n>"
//   kill <pid> <signal>                   one sendSignal without a value;
//                                         prints "sent" or the error code
//   receive <signal> <count>              prints "ready <pid>", then one JSON
//                                         summary of <count> deliveries
//   usr1 <count>                          waits 1 s (Deno's inspector handler
//                                         is in place by then), prints
//                                         "ready", then "got <i>" for each
//                                         SIGUSR1, then "done"
//   unref                                 listens, prints "listening" and
//                                         must exit by itself
//   fallback                              binds libc directly (no
//                                         trampoline), prints "ready", then
//                                         the delivery of one SIGUSR2
//   term                                  registers a removal at exit,
//                                         listens for SIGTERM, prints
//                                         "ready", then "got SIGTERM" and
//                                         exits normally
//   flood <signal> <count> <flag-file>    listens, prints "ready", blocks
//                                         its event loop until <flag-file>
//                                         exists, then prints how many
//                                         deliveries came and were lost
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";
import {
  IpcError,
  libc,
  pause,
  removeAtExit,
  useDirectBinding,
} from "../../ffi/mod.ts";
import {
  sendSignal,
  type SignalDelivery,
  type SignalId,
  signals,
} from "../../signal/mod.ts";

const [mode, ...args] = process.argv.slice(2);
const id = (text: string): SignalId =>
  /^\d+$/.test(text) ? Number(text) : text as SignalId;

async function collect(
  it: AsyncIterator<SignalDelivery>,
  count: number,
): Promise<SignalDelivery[]> {
  const got: SignalDelivery[] = [];
  while (got.length < count) {
    const r = await it.next();
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}

/** How many listening TCP sockets this process holds. */
function listeningSockets(): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9]!)) count++;
    }
  }
  return count;
}

switch (mode) {
  case "send": {
    const [pid, signal, count, first = "0"] = args;
    for (let i = 0; i < Number(count); i++) {
      for (;;) {
        try {
          sendSignal(Number(pid), id(signal!), { value: Number(first) + i });
          break;
        } catch (e) {
          if (!(e instanceof IpcError) || e.code !== "EAGAIN") throw e;
          await pause(1);
        }
      }
    }
    console.log(`sent ${count}`);
    break;
  }
  case "kill": {
    const [pid, signal] = args;
    try {
      sendSignal(Number(pid), id(signal!));
      console.log("sent");
    } catch (e) {
      console.log(e instanceof IpcError ? e.code : String(e));
    }
    break;
  }
  case "receive": {
    const [signal, count] = args;
    using it = signals([id(signal!)]);
    console.log(`ready ${libc().getpid()}`);
    const got = await collect(it, Number(count));
    console.log(JSON.stringify({
      values: got.map((d) => d.value),
      pids: [...new Set(got.map((d) => d.pid))],
      lost: it.lost,
    }));
    break;
  }
  case "usr1": {
    const count = Number(args[0]);
    using it = signals(["SIGUSR1"]);
    await pause(1000);
    console.log("ready");
    for (let i = 0; i < count; i++) {
      const r = await it.next();
      if (r.done) break;
      console.log(`got ${i}`);
    }
    console.log("done");
    // Deno's inspector opens a listening TCP socket when its SIGUSR1
    // handler runs (its message may be silenced by --quiet): look for one.
    await pause(300);
    console.log(`listening sockets ${listeningSockets()}`);
    break;
  }
  case "unref": {
    const it = signals(["SIGUSR2", "SIGRTMIN+1"]);
    it.next().then(() => console.log("unexpected delivery"));
    console.log("listening");
    break;
  }
  case "fallback": {
    useDirectBinding();
    using it = signals(["SIGUSR2"]);
    console.log(`ready ${it.mode}`);
    const r = await it.next();
    console.log(JSON.stringify(r.value ?? null));
    break;
  }
  case "flood": {
    const [signal, count, flag] = args;
    using it = signals([id(signal!)]);
    console.log("ready");
    while (!existsSync(flag!)) { /* the event loop is blocked */ }
    let delivered = 0;
    const seen = new Set<number | undefined>();
    while (delivered + it.lost < Number(count)) {
      const r = await it.next();
      if (r.done) break;
      delivered++;
      seen.add(r.value.value);
    }
    console.log(
      JSON.stringify({ delivered, lost: it.lost, distinct: seen.size }),
    );
    break;
  }
  case "term": {
    // A temporary object's removal at exit is registered (ffi's
    // removeAtExit, as MessageQueue.temporary() does): a SIGTERM this
    // program listens for must reach it, not end the process.
    removeAtExit(() => console.log("removed at exit"));
    using it = signals(["SIGTERM"]);
    console.log("ready");
    const keepAlive = setInterval(() => {}, 1000);
    const r = await it.next();
    clearInterval(keepAlive);
    console.log(`got ${r.value?.signal}`);
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
