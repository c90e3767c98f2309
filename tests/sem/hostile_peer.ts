// A peer process for the sem tests that may crash (so a crash fails one
// test, not the run). Modes (argv):
//   wait-close <runs>            Semaphore.wait() racing close() in many ways; "ok"
//   gone <kind>                  post()/wait() on an unnamed semaphore, Mutex and
//                                Condition after their memory went away (kind:
//                                shm-close, shm-resize, transfer); prints codes
//   empty <name>                 open a named semaphore whose file is empty, post
//   rss <locks>                  RSS growth (MiB) over lock({ signal })/unlock and
//                                parked Semaphore.wait({ signal }) (needs gc)
//   fair <shm> <sync|async> <ms> lock the Mutex at 0 for <ms>; JSON count, max wait
//   fault <shm>                  lock/tear/repair a record under the Mutex at 0
//                                until the stop word is set; JSON stats
//   hold <shm>                   lock the Mutex at 0, print "locked <tid>", wait
import process from "node:process";
import { Condition, IpcError, Mutex, Semaphore } from "../../sem/mod.ts";
import { SharedMemory } from "../../shm/mod.ts";
import { mapShared } from "../helpers/sem_memory.ts";

const [mode, a, b, c] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (e: unknown) =>
  e instanceof IpcError ? e.code : (e as Error)?.name ?? String(e);

if (mode === "wait-close") {
  let resolved = 0;
  let rejected = 0;
  for (let i = 0; i < Number(a); i++) {
    const unnamed = i % 2 === 1;
    const s = unnamed
      ? Semaphore.init(new SharedArrayBuffer(32), 0, { spin: 0 })
      : Semaphore.temporary({ spin: i % 3 === 0 ? 50 : 0 });
    const waits = [s.wait(), s.wait({ timeout: 10_000 })];
    if (i % 4 === 0) await sleep(1); // parked
    // A post wakes a wait; close() lands before, between or after the
    // continuation runs.
    s.post();
    const closeAfter = i % 5;
    if (closeAfter === 0) s.close();
    else if (closeAfter === 1) queueMicrotask(() => s.close());
    else if (closeAfter === 2) Promise.resolve().then(() => s.close());
    else if (closeAfter === 3) setTimeout(() => s.close(), 0);
    else setTimeout(() => s.close(), i % 3);
    for (const w of waits) {
      try {
        await w;
        resolved++;
      } catch (e) {
        if (!(e instanceof IpcError && e.code === "EBADF")) throw e;
        rejected++;
      }
    }
    s.close();
  }
  console.log(`ok ${resolved} ${rejected}`);
} else if (mode === "gone") {
  const out: string[] = [];
  const attempt = (label: string, f: () => unknown) => {
    try {
      f();
      out.push(`${label}:ok`);
    } catch (e) {
      out.push(`${label}:${codeOf(e)}`);
    }
  };
  let buffer: ArrayBuffer;
  let goAway: () => void;
  const shm = SharedMemory.temporary({ size: 4096 });
  if (a === "transfer") {
    shm.close();
    buffer = new ArrayBuffer(64);
    goAway = () => {
      (buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
    };
  } else {
    buffer = shm.buffer;
    goAway = a === "shm-resize" ? () => shm.resize(8192) : () => shm.close();
  }
  const s = Semaphore.init(buffer, 0, { value: 1, spin: 0 });
  const mutex = Mutex.init(buffer, 32);
  const cond = Condition.init(buffer, 40);
  const guard = await mutex.lock();
  const pendingWait = (async () => {
    s.tryWait();
    try {
      await s.wait({ timeout: 5000 });
      return "wait:resolved";
    } catch (e) {
      return `wait:${codeOf(e)}`;
    }
  })();
  await sleep(10);
  goAway();
  attempt("post", () => s.post());
  attempt("value", () => s.value);
  attempt("tryWait", () => s.tryWait());
  attempt("lockSync", () => mutex.lockSync({ timeout: 10 }));
  attempt("owner", () => mutex.owner);
  attempt("notify", () => cond.notify());
  attempt("guard.unlock", () => guard.unlock());
  out.push(await pendingWait);
  s.close();
  mutex.close();
  cond.close();
  shm.close();
  console.log(out.join(" "));
} else if (mode === "empty") {
  try {
    using s = Semaphore.open(a);
    s.post();
    console.log(`opened, value ${s.value}`);
  } catch (e) {
    console.log(codeOf(e), (e as Error).message);
  }
} else if (mode === "rss") {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --expose-gc");
  const rss = () => process.memoryUsage().rss / 2 ** 20;
  const memory = new SharedArrayBuffer(8);
  using mutex = Mutex.init(memory, 0);
  using s = Semaphore.temporary({ spin: 0 });
  const controller = new AbortController();
  const signal = controller.signal;
  const round = async (n: number) => {
    for (let i = 0; i < n; i++) {
      (await mutex.lock({ signal })).unlock();
      mutex.lockSync().unlock();
    }
    for (let i = 0; i < n / 50; i++) {
      const w = s.wait({ signal });
      setTimeout(() => s.post(), 0);
      await w;
    }
  };
  const n = Number(a);
  await round(n / 5); // warm up
  gc();
  await sleep(20);
  gc();
  const before = rss();
  await round(n);
  gc();
  await sleep(20);
  gc();
  console.log(`grew ${(rss() - before).toFixed(1)} MiB`);
} else if (mode === "fair") {
  using memory = mapShared(a, 4096);
  using mutex = Mutex.at(memory.buffer, 0);
  const ready = new Int32Array(memory.buffer, 8, 1);
  const shared = new Int32Array(memory.buffer, 12, 1);
  Atomics.add(ready, 0, 1);
  while (Atomics.load(ready, 0) < 2) await sleep(1);
  const end = performance.now() + Number(c);
  let count = 0;
  let maxWait = 0;
  while (performance.now() < end) {
    const start = performance.now();
    const guard = b === "sync"
      ? mutex.lockSync({ timeout: 10_000 })
      : await mutex.lock({ timeout: 10_000 });
    const waited = performance.now() - start;
    if (waited > maxWait) maxWait = waited;
    shared[0] = shared[0] + 1;
    count++;
    guard.unlock();
  }
  console.log(JSON.stringify({ count, maxWait }));
} else if (mode === "fault") {
  // Layout: Mutex at 0; then Int32 words from byte 8: [0] stop, [1] holders
  // inside, [2] record a, [3] record b, [4] ownerDied, [5] repaired, [6]
  // violations, [7] locks (totals that outlive a killed peer).
  using memory = mapShared(a, 4096);
  using mutex = Mutex.at(memory.buffer, 0);
  const words = new Int32Array(memory.buffer, 8, 8);
  console.log("ready");
  let i = 0;
  while (Atomics.load(words, 0) === 0) {
    const sync = i % 2 === 0;
    const guard = sync
      ? mutex.lockSync({ timeout: 10_000 })
      : await mutex.lock({ timeout: 10_000 });
    Atomics.add(words, 7, 1);
    if (guard.ownerDied) {
      Atomics.add(words, 4, 1);
      Atomics.store(words, 1, 0); // the dead holder's mark
    }
    if (Atomics.add(words, 1, 1) !== 0) Atomics.add(words, 6, 1); // two holders
    if (words[2] !== words[3]) {
      // Torn: fine after a dead owner (repair it), a bug otherwise.
      Atomics.add(words, guard.ownerDied ? 5 : 6, 1);
      words[3] = words[2];
    }
    words[2] = words[2] + 1;
    const busy = performance.now() + 0.5; // a kill lands here: torn
    while (performance.now() < busy) { /* the update takes a while */ }
    words[3] = words[2];
    i++;
    Atomics.sub(words, 1, 1);
    guard.unlock();
    if (!sync) await sleep(0);
  }
  console.log("done");
} else if (mode === "hold") {
  const memory = mapShared(a, 4096);
  const mutex = Mutex.at(memory.buffer, 0);
  mutex.lockSync({ timeout: 5000 });
  console.log(`locked ${mutex.owner}`);
  setInterval(() => {}, 1000);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
