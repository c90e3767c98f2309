// The far end of the mq benchmark, run as its own process in the same runtime
// as the runner:
//
//   mq_peer.ts echo-sync  <request> <reply>         blocking echo
//   mq_peer.ts echo-async <request> <reply> <spin>  await-based echo
//   mq_peer.ts sink       <request> <reply> <batch> acknowledge every batch
//
// The queues already exist (the runner creates and unlinks them). An empty
// message means stop.
import process from "node:process";
import { MessageQueue } from "../mq/mod.ts";

const [mode, requestName, replyName, extra] = process.argv.slice(2);
const spin = mode === "echo-async" ? Number(extra) : undefined;
using request = MessageQueue.open(requestName, { spin });
using reply = MessageQueue.open(replyName, { spin });
const buffer = new Uint8Array(request.messageSize);

if (mode === "echo-sync") {
  for (;;) {
    const { length } = request.receiveIntoSync(buffer);
    if (length === 0) break;
    reply.sendSync(buffer.subarray(0, length));
  }
} else if (mode === "echo-async") {
  for (;;) {
    const { length } = await request.receiveInto(buffer);
    if (length === 0) break;
    await reply.send(buffer.subarray(0, length));
  }
} else if (mode === "sink") {
  const batch = Number(extra);
  const ack = new Uint8Array(1);
  for (let got = 1;; got++) {
    if (request.receiveIntoSync(buffer).length === 0) break;
    if (got % batch === 0) reply.sendSync(ack);
  }
} else {
  throw new TypeError(`Unknown peer mode: ${mode}`);
}
