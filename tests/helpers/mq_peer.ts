// A POSIX message queue peer for cross-process tests, run under Deno or Bun:
//   send <name> <count>      sends the pattern messages 0..count-1
//   receive <name> <count>   receives them and checks every byte, in order
//   priorities <name>        sends "p1", "p9", "p5" with those priorities
//   open <name> <access>     opens (then receives one, or sends one) and
//                            reports "opened" or the error code
//   stuck-send <name>        fills the queue, prints "full", then blocks in sendSync
//   create <name> <max> <size>  creates (and unlinks) a queue; prints "created"
//                            or the error code and message
import { IpcError, MessageQueue } from "../../mq/mod.ts";
import { patternMessage, patternMismatch } from "./mq_pattern.ts";

const [mode, name, arg] = process.argv.slice(2);

function codeOf(error: unknown): string {
  return error instanceof IpcError ? error.code : String(error);
}

switch (mode) {
  case "send": {
    using q = MessageQueue.open(name);
    for (let i = 0; i < Number(arg); i++) {
      q.sendSync(patternMessage(i, q.messageSize), { timeout: 10_000 });
    }
    console.log("sent");
    break;
  }
  case "receive": {
    using q = MessageQueue.open(name);
    const count = Number(arg);
    for (let i = 0; i < count; i++) {
      const { data } = i % 2 === 0
        ? q.receiveSync({ timeout: 10_000 })
        : await q.receive({ timeout: 10_000 });
      const wrong = patternMismatch(i, q.messageSize, data);
      if (wrong) {
        console.log(wrong);
        process.exit(1);
      }
    }
    console.log(`received ${count}`);
    break;
  }
  case "priorities": {
    using q = MessageQueue.open(name);
    q.sendSync("p1", { priority: 1 });
    q.sendSync("p9", { priority: 9 });
    q.sendSync("p5", { priority: 5 });
    console.log("sent");
    break;
  }
  case "open": {
    try {
      using q = MessageQueue.open(name, {
        access: arg as "read" | "write" | "read-write",
      });
      if (arg === "read") {
        const { data } = q.receiveSync({ timeout: 5000 });
        console.log(`opened ${new TextDecoder().decode(data)}`);
      } else {
        q.sendSync("from peer");
        console.log("opened");
      }
    } catch (error) {
      console.log(codeOf(error));
    }
    break;
  }
  case "stuck-send": {
    const q = MessageQueue.open(name);
    let i = 0;
    while (q.trySend(patternMessage(i, q.messageSize))) i++;
    console.log(`full ${i}`);
    q.sendSync(patternMessage(i, q.messageSize)); // blocks until killed
    break;
  }
  case "create": {
    const [maxMessages, messageSize] = process.argv.slice(4).map(Number);
    try {
      MessageQueue.open(name, { create: true, maxMessages, messageSize })
        .close();
      MessageQueue.unlink(name);
      console.log("created");
    } catch (error) {
      console.log(`${codeOf(error)} ${(error as Error).message}`);
    }
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
