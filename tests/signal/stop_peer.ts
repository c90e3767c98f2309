// A peer for stop_test.ts: listens for a signal that ends the process by
// default, takes one delivery, stops listening, and again, `rounds` times.
// It must never die of a delivery it took. Modes: "self" (sendSignal to
// itself: the record is read at once), "kill" (process.kill to itself, with
// a real-time signal listened for beside it so the pipe reader reads too),
// "parent" (prints `ready <i>` and the test signals it; `signal` may be a
// comma-separated list, listened for together and sent in turn), "end"
// (as "parent", with a real-time signal beside, and the program ends at once).
import process from "node:process";
import { sendSignal, type SignalId, signals } from "../../signal/mod.ts";

const [mode = "self", signal = "SIGTERM", count = "100"] = process.argv.slice(
  2,
);
const rounds = Number(count);
const keepAlive = setInterval(() => {}, 1 << 30);
const names = signal.split(",") as SignalId[];
for (let i = 0; i < rounds; i++) {
  const expected = names[i % names.length]!;
  const list: SignalId[] = mode === "kill" || mode === "end"
    ? [...names, "SIGRTMIN+1"]
    : names;
  const deliveries = signals(list);
  if (mode === "self") sendSignal(process.pid, expected);
  else if (mode === "kill") process.kill(process.pid, expected);
  else console.log(`ready ${i}`);
  const { value, done } = await deliveries.next();
  if (done || value.signal !== expected) {
    throw new Error(`round ${i}: got ${JSON.stringify(value)}`);
  }
  deliveries.close();
  if (i % 8 === 7) await new Promise((r) => setTimeout(r, 0));
}
// A delivery Deno's thread took only now would end the process here ("end":
// as the program itself ends, when Deno drops its listeners).
if (mode !== "end") await new Promise((r) => setTimeout(r, 50));
clearInterval(keepAlive);
console.log("ok");
