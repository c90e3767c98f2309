// A Deno or Bun peer for the System V message queue tests.
//   echo <id> <count>   take type 1 messages, send each text back as type 2
//   open <key>          open the queue by key and try a send; print "ok" or the error code
//   attach <id>         attach by id and try a send; print "ok" or the error code
//   wait <id>           print "waiting", block in receiveSync(), print the error code
import { SysvMessageQueue } from "../../mq/sysv_message_queue.ts";
import { IpcError } from "../../ffi/mod.ts";

const [mode, arg, count] = process.argv.slice(2);

function code(error: unknown): string {
  return error instanceof IpcError ? error.code : String(error);
}

switch (mode) {
  case "echo": {
    using q = SysvMessageQueue.fromId(Number(arg));
    for (let i = 0; i < Number(count); i++) {
      const { data } = await q.receive({ type: 1, timeout: 20_000 });
      await q.send(2, data, { timeout: 20_000 });
    }
    console.log(`echoed ${count}`);
    break;
  }
  case "open":
  case "attach":
    try {
      using q = mode === "open"
        ? SysvMessageQueue.open(Number(arg))
        : SysvMessageQueue.fromId(Number(arg));
      q.trySend(1, "intruder");
      console.log("ok");
    } catch (error) {
      console.log(code(error));
    }
    break;
  case "wait": {
    using q = SysvMessageQueue.fromId(Number(arg));
    console.log("waiting");
    try {
      q.receiveSync({ type: 99 });
      console.log("received");
    } catch (error) {
      console.log(code(error));
    }
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
