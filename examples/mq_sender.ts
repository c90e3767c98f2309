// Sends jobs to the queue examples/mq_receiver.ts made: while the receiver
// is busy, queued messages are taken highest priority first.
import { MessageQueue } from "../mq/mod.ts";

using queue = MessageQueue.open("/ipckit_example_jobs", { access: "write" });
await queue.send("resize photo.jpg", { priority: 1 });
await queue.send("renew certificate", { priority: 9 });
await queue.send("stop", { priority: 0 }); // lowest: taken after the jobs
console.log("sent 2 jobs and stop");
