// Receives jobs from the POSIX message queue "/ipckit_example_jobs" until a
// "stop" message, then removes the queue. Start it first, then the sender:
//
//   deno run --allow-ffi examples/mq_receiver.ts   (or: bun run examples/mq_receiver.ts)
//   bun run examples/mq_sender.ts                  (or: deno run --allow-ffi examples/mq_sender.ts)
import { MessageQueue } from "../mq/mod.ts";

const name = "/ipckit_example_jobs";
const decoder = new TextDecoder();

// Closing is not removing: the queue outlives this process until unlinked.
using queue = MessageQueue.open(name, {
  create: true,
  maxMessages: 10,
  messageSize: 1024,
});
console.log(`waiting for jobs on ${name}`);
try {
  for await (const { data, priority } of queue) {
    const text = decoder.decode(data);
    if (text === "stop") break;
    console.log(`job "${text}" (priority ${priority})`);
  }
} finally {
  MessageQueue.unlink(name);
}
