// A user's program that waits asynchronously on both of ipckit's helper
// threads under Bun: a message queue receive (the reactor) and a semaphore
// wait (the futex table). The packaging tests run it bundled by `bun build`,
// compiled by `bun build --compile` and from the npm package; it imports the
// modules by the path given at build time (see the tests).
// Usage: <program> <name prefix>
import process from "node:process";
import { MessageQueue } from "../../mq/mod.ts";
import { Semaphore } from "../../sem/mod.ts";

const prefix = process.argv[2] ?? "ipckit_test";
const queueName = `/${prefix}_pkg_queue_${process.pid}`;
const semaphoreName = `/${prefix}_pkg_sem_${process.pid}`;
const later = (f: () => unknown) => setTimeout(f, 50);

using queue = MessageQueue.open(queueName, {
  create: true,
  exclusive: true,
  maxMessages: 4,
  messageSize: 64,
});
using semaphore = Semaphore.open(semaphoreName, {
  create: true,
  exclusive: true,
  value: 0,
});
try {
  // Both waits park: what they wait for comes 50 ms later.
  later(() => queue.sendSync("hello from a bundle"));
  const message = await queue.receive({ timeout: 10_000 });
  later(() => semaphore.post());
  await semaphore.wait({ timeout: 10_000 });
  console.log(JSON.stringify({
    message: new TextDecoder().decode(message.data),
    semaphore: "acquired",
  }));
} finally {
  MessageQueue.unlink(queueName);
  Semaphore.unlink(semaphoreName);
}
