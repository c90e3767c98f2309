// A peer process for the sem tests. Modes (argv):
//   count <shm> <times> <sync|async>  lock the Mutex at 0 `times` times, add 1 to a plain counter at 8
//   hold <shm>                        lock the Mutex at 0, print "locked", wait to be killed
//   pong <ping> <pong> <times>        wait on named semaphore ping, post pong, `times` times
//   open <name>                       open a named semaphore; print "ok" or the error code
//   upost <shm> <offset> <delay ms>   post the unnamed semaphore at offset, after a delay
//   sysv-take <id>                    take 1 from semaphore 0 of a System V set with SEM_UNDO, exit
//   eintr <name> <timeout ms>         with a SIGUSR2 handler installed: waitSync() until the timeout,
//                                     print "timed out after <ms>", then waitSync() for a post
//   idle-wait <name>                  print "waiting", then an async wait with no timeout
//   done-waits <name>                 async waits that are taken, time out, abort and wake; "done"
//   cond <shm> <rounds>               Mutex at 0, Condition at 8, turn at 16: take the odd turns
import process from "node:process";
import {
  Condition,
  IpcError,
  Mutex,
  Semaphore,
  SysvSemaphoreSet,
} from "../../sem/mod.ts";
import { mapShared } from "./sem_memory.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const [mode, a, b, c] = process.argv.slice(2);

if (mode === "count") {
  using memory = mapShared(a, 4096);
  using mutex = Mutex.at(memory.buffer, 0);
  const counter = new Int32Array(memory.buffer, 8, 1);
  const times = Number(b);
  // Start together (4 peers), so the locks really contend.
  const ready = new Int32Array(memory.buffer, 12, 1);
  Atomics.add(ready, 0, 1);
  while (Atomics.load(ready, 0) < 4) await new Promise((r) => setTimeout(r, 1));
  let contended = 0;
  for (let i = 0; i < times; i++) {
    if (mutex.owner !== 0) contended++;
    using _guard = c === "sync"
      ? mutex.lockSync({ timeout: 20_000 })
      : await mutex.lock({ timeout: 20_000 });
    counter[0] = counter[0] + 1; // plain read-modify-write: only the lock makes it exact
  }
  console.log("done");
  console.error(`contended ${contended}`);
} else if (mode === "hold") {
  const memory = mapShared(a, 4096);
  const mutex = Mutex.at(memory.buffer, 0);
  const guard = mutex.lockSync({ timeout: 5000 });
  new Int32Array(memory.buffer, 8, 1)[0] = 42; // half-done update
  console.log("locked", guard.ownerDied);
  setInterval(() => {}, 1000);
} else if (mode === "pong") {
  using ping = Semaphore.open(a);
  using pong = Semaphore.open(b);
  const times = Number(c);
  console.log("ready");
  for (let i = 0; i < times; i++) {
    if (i % 2) ping.waitSync({ timeout: 10_000 });
    else await ping.wait({ timeout: 10_000 });
    pong.post();
  }
  console.log("done");
} else if (mode === "open") {
  try {
    Semaphore.open(a).close();
    console.log("ok");
  } catch (e) {
    console.log(e instanceof IpcError ? e.code : String(e));
  }
} else if (mode === "sysv-unstatable") {
  // A set this process may not read (mode 0o200): open({ create }) must
  // fail with EACCES and leave no set behind under the key.
  const key = Number(a);
  const codes: string[] = [];
  for (const options of [{ create: true, mode: 0o200 }, {}]) {
    try {
      SysvSemaphoreSet.open(key, options).close();
      codes.push("opened");
    } catch (e) {
      codes.push(e instanceof IpcError ? `${e.code} ${e.syscall}` : String(e));
    }
  }
  console.log(codes.join(", "));
} else if (mode === "upost") {
  using memory = mapShared(a, 4096);
  using s = Semaphore.at(memory.buffer, Number(b));
  await new Promise((r) => setTimeout(r, Number(c)));
  s.post();
  console.log("posted");
} else if (mode === "sysv-take") {
  using set = SysvSemaphoreSet.fromId(Number(a));
  set.operateSync([{ index: 0, delta: -1, undo: true }], { timeout: 5000 });
  console.log("taken", set.get(0));
} else if (mode === "eintr") {
  using s = Semaphore.open(a);
  let handled = 0;
  // The listener stays: it does not keep the process alive.
  process.on("SIGUSR2", () => handled++);
  console.log("waiting for the timeout");
  const start = performance.now();
  try {
    s.waitSync({ timeout: Number(b) });
    console.log("taken without a post");
  } catch (e) {
    console.log(
      e instanceof DOMException && e.name === "TimeoutError"
        ? `timed out after ${Math.round(performance.now() - start)}`
        : `failed: ${e}`,
    );
  }
  console.log("waiting for a post");
  s.waitSync({ timeout: 10_000 });
  await sleep(100); // let the listener run for the signals that came
  console.log(handled > 0 ? "taken after signals" : "taken, no signal seen");
} else if (mode === "idle-wait") {
  using s = Semaphore.open(a, { spin: 0 });
  console.log("waiting");
  await s.wait();
  console.log("taken");
} else if (mode === "done-waits") {
  using s = Semaphore.open(a, { spin: 0 });
  s.post();
  await s.wait({ timeout: 1000 });
  await s.wait({ timeout: 30 }).then(
    () => console.log("taken without a post"),
    (e) => e.name === "TimeoutError" || console.log(`failed: ${e}`),
  );
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);
  await s.wait({ signal: controller.signal }).then(
    () => console.log("taken without a post"),
    (e) => e.name === "AbortError" || console.log(`failed: ${e}`),
  );
  setTimeout(() => s.post(), 20);
  await s.wait({ timeout: 5000 });
  console.log("done");
} else if (mode === "cond") {
  using memory = mapShared(a, 4096);
  using mutex = Mutex.at(memory.buffer, 0);
  using changed = Condition.at(memory.buffer, 8);
  const turn = new Int32Array(memory.buffer, 16, 1);
  let waits = 0;
  let woken = 0;
  console.log("ready");
  for (let i = 0; i < Number(b); i++) {
    using guard = i % 2
      ? mutex.lockSync({ timeout: 10_000 })
      : await mutex.lock({ timeout: 10_000 });
    while (turn[0] % 2 === 0) {
      waits++;
      const notified = i % 2
        ? changed.waitSync(guard, { timeout: 10_000 })
        : await changed.wait(guard, { timeout: 10_000 });
      if (!notified) {
        console.log(`timed out at turn ${turn[0]}`);
        process.exit(1);
      }
    }
    turn[0]++;
    woken += changed.notifyAll();
  }
  console.log(`done, waited ${waits > 0}, woke ${woken > 0}`);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
