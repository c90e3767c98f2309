// A POSIX message queue peer for cross-process tests, run under Deno or Bun:
//   send <name> <count>      sends the pattern messages 0..count-1
//   receive <name> <count>   receives them and checks every byte, in order
//   priorities <name>        sends "p1", "p9", "p5" with those priorities
//   open <name> <access>     opens (then receives one, or sends one) and
//                            reports "opened" or the error code
//   stuck-send <name>        fills the queue, prints "full", then blocks in sendSync
//   create <name> <max> <size>  creates (and unlinks) a queue; prints "created"
//                            or the error code and message
//   eintr <name> <timeout>   with a SIGUSR2 listener: receiveSync() until the
//                            timeout ("timed out after <ms>"), then
//                            receiveSync() for a message ("got <text>")
//   idle-receive <name>      prints "waiting", then an async receive with no
//                            timeout; prints "got <text>"
//   done-receives <name>     async receives that are served, time out, abort,
//                            and wait for a message; then "done"
import process from "node:process";
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
  case "eintr": {
    using q = MessageQueue.open(name);
    let handled = 0;
    // The listener stays: it does not keep the process alive.
    process.on("SIGUSR2", () => handled++);
    console.log("waiting for the timeout");
    const start = performance.now();
    try {
      q.receiveSync({ timeout: Number(arg) });
      console.log("received without a message");
    } catch (error) {
      console.log(
        error instanceof DOMException && error.name === "TimeoutError"
          ? `timed out after ${Math.round(performance.now() - start)}`
          : `failed: ${error}`,
      );
    }
    console.log("waiting for a message");
    const { data } = q.receiveSync({ timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100)); // let the listener run
    console.log(
      `got ${new TextDecoder().decode(data)} after ${
        handled > 0 ? "signals" : "no signal"
      }`,
    );
    break;
  }
  case "idle-receive": {
    using q = MessageQueue.open(name);
    console.log("waiting");
    const { data } = await q.receive();
    console.log(`got ${new TextDecoder().decode(data)}`);
    break;
  }
  case "done-receives": {
    using q = MessageQueue.open(name);
    const expect = (what: string) => (error: Error) => {
      if (error.name !== what) console.log(`failed: ${error}`);
    };
    q.sendSync("first");
    await q.receive({ timeout: 1000 });
    await q.receive({ timeout: 30 }).then(
      () => console.log("received without a message"),
      expect("TimeoutError"),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await q.receive({ signal: controller.signal }).then(
      () => console.log("received without a message"),
      expect("AbortError"),
    );
    await q.waitForMessage({ timeout: 30 }).then(
      () => console.log("woken without a message"),
      expect("TimeoutError"),
    );
    setTimeout(() => q.sendSync("second"), 20);
    await q.waitForMessage({ timeout: 5000 });
    await q.receive({ timeout: 1000 });
    console.log("done");
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
