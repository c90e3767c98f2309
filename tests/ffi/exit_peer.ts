// Makes one temporary object of every kind, prints what they are (JSON) on
// its first line, then ends the way its argument says:
//   normal     the program ends (the handles never closed)
//   exit       process.exit(3)
//   throw      an uncaught error in a timer
//   reject     an unhandled rejection
//   handled-rejection  a rejection its process.on("unhandledRejection")
//              listener handles: prints "still there", exits 0
//   handled-error  the same with an uncaught error and "uncaughtException"
//   wait       waits for a signal (SIGINT, SIGTERM, SIGHUP), no listener
//              of its own for those; prints "alive" on each SIGUSR2
//   handled    its own SIGTERM listener: prints whether the objects still
//              exist ("still there"), then exits 0
//   claimed    handles SIGTERM by a means process.listenerCount() does not
//              see (Deno.addSignalListener; process.on under Bun) and says
//              so with claimSignal(): prints "still there", exits 0
//   closed     closes every handle: prints the pending exit removals (0)
import process from "node:process";
import { MessageQueue, SysvMessageQueue } from "../../mq/mod.ts";
import { Semaphore, SysvSemaphoreSet } from "../../sem/mod.ts";
import { SharedMemory, SysvSharedMemory } from "../../shm/mod.ts";
import { claimSignal, pendingExitRemovals } from "../../ffi/mod.ts";

const mode = process.argv[2];
// Before the first line, so that it is in place when the test signals.
const deno = (globalThis as {
  Deno?: { addSignalListener(signal: string, f: () => void): void };
}).Deno;
if (mode === "wait") {
  const alive = () => console.log("alive");
  if (deno) deno.addSignalListener("SIGUSR2", alive);
  else process.on("SIGUSR2", alive);
}
const mq = MessageQueue.temporary();
const sem = Semaphore.temporary();
const shm = SharedMemory.temporary({ size: 4096 });
const msg = SysvMessageQueue.temporary();
const semset = SysvSemaphoreSet.temporary();
const seg = SysvSharedMemory.temporary({ size: 4096 });
console.log(JSON.stringify({
  mq: mq.name,
  sem: sem.name,
  shm: shm.name,
  msg: msg.id,
  semset: semset.id,
  seg: seg.id,
  pending: pendingExitRemovals(),
}));

switch (mode) {
  case "normal":
    break;
  case "exit":
    process.exit(3);
    break;
  case "throw":
    setTimeout(() => {
      throw new Error("uncaught on purpose");
    }, 1);
    break;
  case "reject":
    Promise.reject(new Error("unhandled on purpose"));
    break;
  case "handled-error":
    process.on("uncaughtException", () => {
      MessageQueue.open(mq.name).close();
      console.log("still there");
      process.exit(0);
    });
    setTimeout(() => {
      throw new Error("handled on purpose");
    }, 1);
    break;
  case "handled-rejection":
    process.on("unhandledRejection", () => {
      // The program handles it and goes on: nothing is removed yet.
      MessageQueue.open(mq.name).close();
      console.log("still there");
      process.exit(0);
    });
    Promise.reject(new Error("handled on purpose"));
    break;
  case "wait":
    setInterval(() => {}, 1000); // until a signal ends it
    break;
  case "claimed": {
    const timer = setInterval(() => {}, 1000);
    claimSignal("SIGTERM");
    const onTerm = () => {
      MessageQueue.open(mq.name).close();
      console.log("still there");
      clearInterval(timer);
      process.exit(0);
    };
    if (deno) deno.addSignalListener("SIGTERM", onTerm);
    else process.on("SIGTERM", onTerm);
    console.log("listening");
    break;
  }
  case "handled": {
    const timer = setInterval(() => {}, 1000);
    process.on("SIGTERM", () => {
      // The program handles the signal: nothing is removed yet.
      MessageQueue.open(mq.name).close();
      console.log("still there");
      clearInterval(timer);
      process.exit(0);
    });
    break;
  }
  case "closed":
    for (const h of [mq, sem, shm, msg, semset, seg]) h.close();
    console.log(pendingExitRemovals());
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
