// Hammers failing libc calls under allocation pressure, garbage collection
// and signals (from a worker of its own), and reports every errno a call cannot produce.
// Usage: errno_peer.ts <trampoline|direct> <iterations> <queue name>
import process from "node:process";
import {
  cString,
  errno,
  errnoCapture,
  libc,
  pollDescriptorSync,
  trySys,
  useDirectBinding,
} from "../../ffi/mod.ts";

const [mode, count, queue] = process.argv.slice(2);
if (mode === "direct") useDirectBinding();
const iterations = Number(count);
const EAGAIN = 11;
const EBADF = 9;
const O_RDWR_CREAT_NONBLOCK = 0o2 | 0o100 | 0o4000;

let signals = 0;
process.on("SIGUSR2", () => signals++);
const gc = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc;

const efd = libc().eventfd(0, 0x80800);
const mq = libc().mq_open(cString(queue), O_RDWR_CREAT_NONBLOCK, 0o600, null);
if (mq < 0) throw new Error(`mq_open failed: ${errno()}`);
const counter = new BigUint64Array(1);
const message = new Uint8Array(8192);
const wrong: Record<string, number> = {};
const note = (what: string, e: number) => {
  const key = `${what}:${e}`;
  wrong[key] = (wrong[key] ?? 0) + 1;
};

// A worker signals this process while the loop runs (a signal sent from
// outside could still be on its way when the listener goes at exit).
const stop = new Int32Array(new SharedArrayBuffer(4));
const kicker = new Worker(new URL("./errno_kicker.ts", import.meta.url), {
  type: "module",
});
const kicked = new Promise((resolve) => {
  kicker.onmessage = (event) => event.data === "stopped" && resolve(true);
});
await new Promise((resolve) => {
  kicker.addEventListener("message", resolve, { once: true });
  kicker.postMessage(stop.buffer);
});
let junk: unknown[] = [];
let polls = 0;
for (let i = 0; i < iterations; i++) {
  // Garbage between the failing call and the errno read's neighbours.
  junk.push({ i, text: `x${i}`, list: new Array(16).fill(i) });
  if (junk.length > 2000) junk = [];
  if (gc !== undefined && i % 5000 === 0) gc(false);

  if (libc().read(efd, counter, 8) !== -1) note("read-succeeded", 0);
  else if (errno() !== EAGAIN) note("read", errno());
  if (libc().mq_receive(mq, message, message.length, null) !== -1) {
    note("mq_receive-succeeded", 0);
  } else if (errno() !== EAGAIN) note("mq_receive", errno());
  if (libc().close(-1) !== -1) note("close-succeeded", 0);
  else if (errno() !== EBADF) note("close", errno());
  try {
    if (trySys(() => libc().read(efd, counter, 8), { syscall: "read" })) {
      note("trySys-succeeded", 0);
    }
  } catch (error) {
    note("trySys", (error as { errno: number }).errno);
  }
  // Blocking waits that signals interrupt: EINTR is retried inside.
  if (i % 2000 === 0) {
    polls++;
    if (pollDescriptorSync(efd, "read", 2)) note("poll-ready", 0);
  }
}
Atomics.store(stop, 0, 1);
await kicked;
kicker.terminate();
await new Promise((resolve) => setTimeout(resolve, 50)); // listeners run
libc().mq_close(mq);
libc().mq_unlink(cString(queue));
libc().close(efd);
console.log(
  JSON.stringify({ capture: errnoCapture(), wrong, signals, polls }),
);
