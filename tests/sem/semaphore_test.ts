import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { Condition, Mutex, Semaphore } from "../../sem/mod.ts";
import { mapShared } from "../helpers/sem_memory.ts";
import {
  buildC,
  CURRENT,
  hasExited,
  killPeers,
  nextLine,
  rootTest,
  runPeerOk,
  RUNTIMES,
  signalRepeatedly,
  signalUntilLine,
  startPeer,
  succeeded,
  testName,
} from "../helpers/peer.ts";
import {
  assertElapsed,
  assertIpcError,
  isTimeout,
  removeQuietly,
} from "../helpers/assert.ts";

afterEach(killPeers);

const PEER = "tests/helpers/sem_peer.ts";

test("Semaphore.open() creates /dev/shm/sem.NAME, reopens and honours exclusive", () => {
  const name = testName();
  try {
    using a = Semaphore.open(name, {
      create: true,
      exclusive: true,
      value: 2,
      mode: 0o640,
    });
    const file = `/dev/shm/sem.${name.slice(1)}`;
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o640 & ~process.umask());
    using b = Semaphore.open(name, { create: true, value: 99 });
    assert.equal(b.value, 2, "an existing semaphore keeps its value");
    b.post();
    assert.equal(a.value, 3);
    assert.throws(
      () => Semaphore.open(name, { create: true, exclusive: true }),
      assertIpcError("EEXIST", "sem_open", name),
    );
  } finally {
    removeQuietly(() => Semaphore.unlink(name));
  }
});

test("Semaphore.open() explains a missing semaphore; unlink twice fails with ENOENT", () => {
  const name = testName();
  assert.throws(() => Semaphore.open(name), (e) => {
    assertIpcError("ENOENT", "sem_open")(e);
    assert.match(
      (e as Error).message,
      /^Cannot open semaphore "\/ipckit_test_\w+": ENOENT \(No such file or directory\).*create: true/,
    );
    return true;
  });
  Semaphore.open(name, { create: true }).close();
  Semaphore.unlink(name);
  assert.throws(
    () => Semaphore.unlink(name),
    assertIpcError("ENOENT", "sem_unlink"),
  );
});

test("Semaphore.open() rejects bad names, values and modes before any syscall", () => {
  assert.throws(() => Semaphore.open("slots"), TypeError);
  assert.throws(() => Semaphore.open("/a/b"), TypeError);
  assert.throws(() => Semaphore.open("/a\0b"), TypeError);
  assert.throws(() => Semaphore.open(7 as unknown as string), TypeError);
  assert.throws(() => Semaphore.open("/"), RangeError);
  assert.throws(() => Semaphore.open("/" + "x".repeat(252)), RangeError);
  assert.throws(() => Semaphore.unlink("nope"), TypeError);
  for (const value of [-1, 2 ** 31, 1.5, NaN]) {
    assert.throws(
      () => Semaphore.open(testName(), { create: true, value }),
      RangeError,
    );
  }
  assert.throws(() => Semaphore.temporary({ mode: 0o10000 }), RangeError);
  assert.throws(() => Semaphore.temporary({ spin: -1 }), RangeError);
  using s = Semaphore.temporary({ value: Semaphore.maxValue });
  assert.equal(s.value, 2 ** 31 - 1);
  assert.throws(() => s.post(), assertIpcError("EOVERFLOW", "sem_post"));
});

test("Semaphore.tryWait() and waitSync() take one; waitSync() times out", () => {
  using s = Semaphore.temporary({ value: 2 });
  assert.equal(s.tryWait(), true);
  s.waitSync({ timeout: 0 });
  assert.equal(s.tryWait(), false);
  const start = performance.now();
  assert.throws(() => s.waitSync({ timeout: 50 }), isTimeout);
  assertElapsed(start, 45, 1000);
  assert.throws(() => s.waitSync({ timeout: -1 }), RangeError);
});

test("Semaphore.wait() resolves on a post, times out and honours abort without blocking the loop", async () => {
  using s = Semaphore.temporary({ spin: 0 });
  setTimeout(() => s.post(), 30);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  try {
    await s.wait({ timeout: 2000 });
    assert.equal(s.value, 0);
    const start = performance.now();
    await assert.rejects(s.wait({ timeout: 60 }), isTimeout);
    assertElapsed(start, 55);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} ticks`);
  } finally {
    clearInterval(ticker);
  }
  const controller = new AbortController();
  const pending = s.wait({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error("stop")), 20);
  await assert.rejects(pending, /stop/);
  await assert.rejects(
    s.wait({ signal: AbortSignal.abort(new Error("early")) }),
    /early/,
  );
  // Neither left a waiter count behind: a post is still seen by a new wait.
  setTimeout(() => s.post(), 10);
  await s.wait({ timeout: 2000 });
});

test("Semaphore.close() rejects pending waits with EBADF; use after close; double close", async () => {
  const s = Semaphore.temporary({ spin: 0 });
  const name = s.name!;
  const pending = s.wait({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 20));
  s.close();
  await assert.rejects(pending, assertIpcError("EBADF"));
  s.close();
  assert.equal(s.closed, true);
  assert.throws(() => s.post(), assertIpcError("EBADF", "sem_post"));
  assert.throws(() => s.tryWait(), assertIpcError("EBADF"));
  assert.throws(() => s.value, assertIpcError("EBADF"));
  await assert.rejects(s.wait(), assertIpcError("EBADF"));
  assert.equal(existsSync(`/dev/shm/sem.${name.slice(1)}`), false);
});

test("Semaphore.acquire() returns a permit that posts back on dispose", async () => {
  using s = Semaphore.temporary({ value: 1 });
  {
    using permit = await s.acquire({ timeout: 1000 });
    assert.equal(s.value, 0);
    assert.equal(permit.released, false);
    await assert.rejects(s.acquire({ timeout: 20 }), isTimeout);
  }
  assert.equal(s.value, 1);
  const permit = s.acquireSync();
  permit.release();
  permit.release();
  assert.equal(s.value, 1);
});

test("Semaphore.init() puts an unnamed semaphore in shared memory another process posts", async () => {
  const shm = testName();
  using memory = mapShared(shm, 4096, true);
  using s = Semaphore.init(memory.buffer, 64, { value: 0 });
  assert.equal(s.name, undefined);
  const peer = startPeer(CURRENT, PEER, ["upost", shm, "64", "50"]);
  await s.wait({ timeout: 10_000 });
  assert.equal(await succeeded(peer), "posted");
  using same = Semaphore.at(memory.buffer, 64);
  same.post();
  assert.equal(s.value, 1);
  s.destroy();
  assert.throws(() => s.post(), assertIpcError("EBADF"));
});

test("Semaphore.init() rejects misaligned and out-of-range offsets and bad values", () => {
  const memory = new SharedArrayBuffer(64);
  assert.throws(() => Semaphore.init(memory, 4), RangeError);
  assert.throws(() => Semaphore.init(memory, 33), RangeError);
  assert.throws(() => Semaphore.init(memory, 40), RangeError);
  assert.throws(() => Semaphore.init(memory, -8), RangeError);
  assert.throws(() => Semaphore.at(memory, 64), RangeError);
  assert.throws(() => Semaphore.init(memory, 0, { value: -1 }), RangeError);
  assert.throws(
    () => Semaphore.init(memory, 0, { value: 2 ** 31 }),
    RangeError,
  );
  assert.throws(
    () => Semaphore.init(new Uint8Array(64) as unknown as ArrayBuffer, 0),
    TypeError,
  );
  using s = Semaphore.init(memory, 32, { value: 3 });
  assert.equal(s.value, 3);
});

for (const runtime of RUNTIMES) {
  test(`Semaphore ping-pong between ${CURRENT} and ${runtime}`, async () => {
    using ping = Semaphore.temporary();
    using pong = Semaphore.temporary();
    const rounds = 200;
    const peer = startPeer(runtime, PEER, [
      "pong",
      ping.name!,
      pong.name!,
      `${rounds}`,
    ]);
    assert.equal(await nextLine(peer), "ready");
    for (let i = 0; i < rounds; i++) {
      ping.post();
      if (i % 2) pong.waitSync({ timeout: 10_000 });
      else await pong.wait({ timeout: 10_000 });
    }
    assert.equal(await succeeded(peer), "ready\ndone");
    assert.equal(ping.value, 0);
    assert.equal(pong.value, 0);
  });
}

test("Semaphore interoperates with a C peer using sem_open", async () => {
  const exe = buildC("sem_peer", ["-pthread"]);
  using ping = Semaphore.temporary();
  using pong = Semaphore.temporary({ spin: 0 });
  const rounds = 200;
  const peer = startPeer("exec", exe, [ping.name!, pong.name!, `${rounds}`]);
  assert.equal(await nextLine(peer), "ready");
  for (let i = 0; i < rounds; i++) {
    ping.post();
    await pong.wait({ timeout: 10_000 });
  }
  assert.equal(await succeeded(peer), "ready\ndone");
  assert.equal(ping.value, 0);
  assert.equal(pong.value, 0);
});

rootTest(
  "Semaphore.open() by nobody on a 0600 semaphore fails with EACCES",
  "switching to nobody",
  async () => {
    using s = Semaphore.temporary({ mode: 0o600 });
    const out = await runPeerOk(CURRENT, PEER, ["open", s.name!], {
      user: "nobody",
    });
    assert.equal(out, "EACCES");
  },
);

test("Semaphore.wait(): five waiters on one semaphore are each woken exactly once, one per post", async () => {
  using s = Semaphore.temporary({ spin: 0 });
  const taken: number[] = [];
  const waits = Array.from(
    { length: 5 },
    (_, i) => s.wait({ timeout: 10_000 }).then(() => taken.push(i)),
  );
  await new Promise((r) => setTimeout(r, 50)); // all five are parked
  for (let posts = 1; posts <= 5; posts++) {
    s.post();
    const deadline = performance.now() + 5000;
    while (taken.length < posts && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 30)); // time for a second wake
    assert.equal(taken.length, posts, `after ${posts} posts: ${taken}`);
    assert.equal(s.value, 0);
  }
  await Promise.all(waits);
  assert.deepEqual([...taken].sort(), [0, 1, 2, 3, 4]);
  s.post();
  assert.equal(s.value, 1, "no waiter is left to take a sixth post");
});

test("Semaphore.wait(): 200 parked waits on one semaphore, and one on each of 200, all wake", async () => {
  using s = Semaphore.temporary({ spin: 0 });
  let woken = 0;
  const waits = Array.from(
    { length: 200 },
    () => s.wait({ timeout: 20_000 }).then(() => woken++),
  );
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 200; i++) s.post();
  await Promise.all(waits);
  assert.equal(woken, 200);
  assert.equal(s.value, 0);
  // 200 futex words: more than one futex_waitv call (128 at most) holds.
  const memory = new SharedArrayBuffer(200 * 32);
  const many = Array.from(
    { length: 200 },
    (_, i) => Semaphore.init(memory, i * 32),
  );
  try {
    const each = many.map((m) => m.wait({ timeout: 20_000 }));
    await new Promise((r) => setTimeout(r, 50));
    for (const m of many.toReversed()) m.post();
    await Promise.all(each);
    assert.ok(many.every((m) => m.value === 0));
  } finally {
    for (const m of many) m.close();
  }
});

for (const runtime of RUNTIMES) {
  test(`Semaphore.waitSync() in a ${runtime} peer survives signals (EINTR): timeout kept, post taken`, async () => {
    using s = Semaphore.temporary();
    const peer = startPeer(runtime, PEER, ["eintr", s.name!, "800"]);
    assert.equal(await nextLine(peer), "waiting for the timeout");
    // Signal the blocked peer every 50 ms until its wait times out (at
    // most 5 s: a wait that restarted its timeout on each signal would
    // not end before the signals stop).
    const line = await signalUntilLine(peer, "SIGUSR2", 50, 5000);
    const elapsed = Number(/^timed out after (\d+)$/.exec(line)?.[1]);
    assert.ok(elapsed >= 790 && elapsed < 2000, line);
    assert.equal(await nextLine(peer), "waiting for a post");
    await signalRepeatedly(peer, "SIGUSR2", 5, 30);
    s.post();
    assert.equal(await nextLine(peer), "taken after signals");
    await succeeded(peer);
    assert.equal(s.value, 0);
  });

  test(`Semaphore.wait() keeps an idle ${runtime} peer alive until a post; finished waits let it exit`, async () => {
    using s = Semaphore.temporary();
    const peer = startPeer(runtime, PEER, ["idle-wait", s.name!]);
    assert.equal(await nextLine(peer), "waiting");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hasExited(peer), false, "the pending wait kept it alive");
    s.post();
    assert.equal(await succeeded(peer, { grace: 2000 }), "waiting\ntaken");
    using t = Semaphore.temporary();
    const done = startPeer(runtime, PEER, ["done-waits", t.name!]);
    assert.equal(await succeeded(done, { grace: 2000 }), "done");
    assert.equal(t.value, 0);
  });
}

for (const runtime of RUNTIMES) {
  test(`Condition signals between ${CURRENT} and a ${runtime} process (turns under a shared Mutex)`, async () => {
    const shm = testName();
    using memory = mapShared(shm, 4096, true);
    using mutex = Mutex.init(memory.buffer, 0);
    using changed = Condition.init(memory.buffer, 8);
    const turn = new Int32Array(memory.buffer, 16, 1);
    const rounds = 50;
    const peer = startPeer(runtime, PEER, ["cond", shm, `${rounds}`]);
    assert.equal(await nextLine(peer), "ready");
    let waits = 0;
    let woken = 0;
    for (let i = 0; i < rounds; i++) {
      using guard = await mutex.lock({ timeout: 10_000 });
      while (turn[0] % 2 === 1) {
        waits++;
        const notified = i % 2
          ? changed.waitSync(guard, { timeout: 10_000 })
          : await changed.wait(guard, { timeout: 10_000 });
        assert.equal(notified, true, `timed out at turn ${turn[0]}`);
      }
      turn[0]++;
      woken += changed.notifyAll();
    }
    assert.equal(
      await succeeded(peer),
      "ready\ndone, waited true, woke true",
    );
    assert.equal(turn[0], 2 * rounds);
    assert.ok(waits > 0 && woken > 0, `waits ${waits}, woken ${woken}`);
    assert.equal(mutex.owner, 0);
  });
}
