// A job queue: one producer, any number of workers, one POSIX message queue.
//
// Start two workers (each in its own terminal, or with `&`), then the
// producer; mix runtimes as you like:
//
//   bun run examples/job_queue.ts worker
//   deno run --allow-ffi examples/job_queue.ts worker
//   bun run examples/job_queue.ts producer 20
//
// Each job goes to exactly one worker. The queue holds 10 messages: when the
// workers fall behind, the producer's send() waits (back-pressure) instead of
// piling jobs up. A worker waits at most 10 s for its first job, then exits
// once no job has come for 1 s, and removes the queue's name on its way out
// (whoever still has it open keeps using it). An optional last argument
// names the queue (default /ipckit_job_queue).
import process from "node:process";
import { IpcError, MessageQueue } from "../mq/mod.ts";

const [role, ...rest] = process.argv.slice(2);
const decoder = new TextDecoder();

/** Opens the queue, creating it if this process comes first. */
function openQueue(name: string): MessageQueue {
  // Both sides may create it: whoever starts first does, with these limits.
  return MessageQueue.open(name, {
    create: true,
    maxMessages: 10,
    messageSize: 256,
  });
}

async function producer(count: number, name: string): Promise<void> {
  using queue = openQueue(name);
  for (let job = 1; job <= count; job++) {
    // Waits while the queue is full; gives up if no worker drains it in 10 s.
    await queue.send(JSON.stringify({ job, input: job * 10 }), {
      timeout: 10_000,
    });
  }
  console.log(`producer: queued ${count} jobs`);
}

async function worker(name: string): Promise<void> {
  using queue = openQueue(name);
  console.log(`worker ${process.pid}: ready`);
  let done = 0;
  for (;;) {
    let data: Uint8Array;
    try {
      // The event loop stays free while this waits (timers, I/O, other work).
      ({ data } = await queue.receive({ timeout: done === 0 ? 10_000 : 1000 }));
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        break; // idle: no job within the timeout
      }
      throw error;
    }
    const { job, input } = JSON.parse(decoder.decode(data));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the "work"
    console.log(`worker ${process.pid}: job ${job} -> ${input * 2}`);
    done++;
  }
  console.log(`worker ${process.pid}: idle, ${done} jobs done`);
  try {
    MessageQueue.unlink(name); // another worker may have removed it already
  } catch (error) {
    if (!(error instanceof IpcError && error.code === "ENOENT")) throw error;
  }
}

if (role === "producer") {
  const [count = "20", name = "/ipckit_job_queue"] = rest;
  await producer(Number(count), name);
} else if (role === "worker") {
  const [name = "/ipckit_job_queue"] = rest;
  await worker(name);
} else {
  console.error("usage: job_queue.ts producer [COUNT] [NAME] | worker [NAME]");
  process.exit(2);
}
