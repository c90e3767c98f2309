// A peer for the mq tests that need a separate process (a crash or a hang
// then fails one test, not the run), under Deno or Bun:
//   receive-sync <name> <timeout|none>
//                                receiveSync() (with that timeout); prints
//                                "got <text>" or the error's name
//   sysv-receive-sync <id> <timeout>
//                                the same on a System V queue
//   produce <name> <producer> <count>
//                                sends [producer, seq] for seq 0..count-1,
//                                sendSync and await send() in turns of 100
//   consume <name> <batch>       takes [producer, seq] messages, receiveSync
//                                and await receive() in turns, and prints
//                                "got p:s p:s ..." every <batch> messages
//                                (and what is left on stop), after "ready";
//                                exits on a stop message (producer
//                                0xffffffff), printing "stopped"
import { MessageQueue, SysvMessageQueue } from "../../mq/mod.ts";
import { IpcError } from "../../ffi/mod.ts";

const [mode, target, ...rest] = process.argv.slice(2);
const decoder = new TextDecoder();
/** Long enough for a loaded machine, short enough that a stuck peer ends. */
const PATIENCE = 20_000;
const STOP = 0xffffffff;

function describe(error: unknown): string {
  if (error instanceof IpcError) return `${error.code} ${error.message}`;
  return error instanceof Error ? error.name : String(error);
}

/** Prints "waiting", then "got <text>" or the error of `receive()`. */
function receiveAndReport(receive: () => { data: Uint8Array }): void {
  console.log("waiting");
  try {
    console.log(`got ${decoder.decode(receive().data)}`);
  } catch (error) {
    console.log(describe(error));
  }
}

function timeoutArg(arg: string): number | undefined {
  return arg === "none" ? undefined : Number(arg);
}

switch (mode) {
  case "receive-sync": {
    using q = MessageQueue.open(target);
    receiveAndReport(() => q.receiveSync({ timeout: timeoutArg(rest[0]) }));
    break;
  }
  case "sysv-receive-sync": {
    using q = SysvMessageQueue.fromId(Number(target));
    receiveAndReport(() => q.receiveSync({ timeout: timeoutArg(rest[0]) }));
    break;
  }
  case "produce": {
    using q = MessageQueue.open(target, { access: "write" });
    const producer = Number(rest[0]);
    const count = Number(rest[1]);
    const message = new Uint32Array(2);
    message[0] = producer;
    for (let seq = 0; seq < count; seq++) {
      message[1] = seq;
      // The whole Uint32Array goes: 8 bytes.
      if (seq % 200 < 100) q.sendSync(message, { timeout: PATIENCE });
      else await q.send(message, { timeout: PATIENCE });
    }
    console.log(`sent ${count}`);
    break;
  }
  case "consume": {
    using q = MessageQueue.open(target, { access: "read" });
    const batch = Number(rest[0]);
    const into = new Uint32Array(q.messageSize / 4);
    const last = new Map<number, number>();
    let pending: string[] = [];
    console.log("ready");
    for (let i = 0;; i++) {
      const { length } = i % 2 === 0
        ? q.receiveIntoSync(into, { timeout: PATIENCE })
        : await q.receiveInto(into, { timeout: PATIENCE });
      if (length !== 8) throw new Error(`a message of ${length} bytes`);
      const [producer, seq] = into;
      if (producer === STOP) break;
      if (seq <= (last.get(producer) ?? -1)) {
        console.log(`reordered ${producer}:${seq} after ${last.get(producer)}`);
        process.exit(1);
      }
      last.set(producer, seq);
      pending.push(`${producer}:${seq}`);
      if (pending.length === batch) {
        console.log(`got ${pending.join(" ")}`);
        pending = [];
      }
    }
    if (pending.length > 0) console.log(`got ${pending.join(" ")}`);
    console.log("stopped");
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
