// A long-running process that takes orders by signal, and the program that
// sends them.
//
//   deno run --allow-ffi examples/signal_worker.ts run &    # prints its pid
//   bun run examples/signal_worker.ts send <pid> 7          # job 7, queued with a value
//   kill -HUP <pid>                                         # "reload"
//   kill <pid>                                              # SIGTERM: it stops cleanly
//
// A real-time signal (SIGRTMIN+1 here) carries a 32-bit value (sigqueue(3))
// and is queued, not merged: send it five times and it arrives five times.
// Each delivery says who sent it (pid and uid, from the kernel). Classic
// signals such as SIGHUP carry no value and merge when several are pending.
// A signal is a nudge, not a channel: for data, use a queue or a socket.
import process from "node:process";
import { sendSignal, signals } from "../signal/mod.ts";

const [command, ...rest] = process.argv.slice(2);
const JOB = "SIGRTMIN+1";

if (command === "run") {
  using deliveries = signals([JOB, "SIGHUP", "SIGTERM", "SIGINT"]);
  // Listening does not keep a process alive by itself: this timer does.
  const alive = setInterval(() => {}, 1 << 30);
  console.log(`worker ${process.pid}: ready`);
  for await (const s of deliveries) {
    if (s.signal === JOB) {
      console.log(`job ${s.value} from pid ${s.pid}`);
    } else if (s.signal === "SIGHUP") {
      console.log(`reload asked by pid ${s.pid}`);
    } else {
      console.log(`${s.signal} from pid ${s.pid}: stopping`);
      break; // ends listening; the previous dispositions come back
    }
  }
  clearInterval(alive);
} else if (command === "send" && rest.length >= 2) {
  const [pid = "", job = ""] = rest;
  sendSignal(Number(pid), JOB, { value: Number(job) });
  console.log(`sent job ${job} to ${pid}`);
} else {
  console.error("usage: signal_worker.ts run | send PID JOB");
  process.exit(2);
}
