import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import {
  backend,
  cString,
  errno,
  forgetDescriptor,
  futexWait,
  futexWaitSync,
  futexWake,
  IpcError,
  libc,
  pendingFutexWaits,
  pendingWaits,
  pollDescriptorSync,
  reactorDescriptor,
  sys,
  trySys,
  validatePosixName,
  waitForDescriptor,
} from "../../ffi/mod.ts";
import {
  CURRENT,
  killPeers,
  peerEnv,
  ROOT,
  runPeerOk,
  RUNTIMES,
  testName,
} from "../helpers/peer.ts";
import { assertDomError, assertElapsed } from "../helpers/assert.ts";

afterEach(killPeers);

const EFD_NONBLOCK_CLOEXEC = 0x80800;

function eventfd(): number {
  return sys(() => libc().eventfd(0, EFD_NONBLOCK_CLOEXEC), {
    syscall: "eventfd",
  });
}
const signalFd = (fd: number) => libc().write(fd, new BigUint64Array([1n]), 8);
const drainFd = (fd: number) => libc().read(fd, new BigUint64Array(1), 8);
const threads = () => readdirSync("/proc/self/task").length;
const descriptors = () => readdirSync("/proc/self/fd").length;
const watched = () =>
  readFileSync(`/proc/self/fdinfo/${reactorDescriptor()}`, "utf8")
    .split("\n").filter((line) => line.startsWith("tfd:")).length;

test(`ffi picks the ${CURRENT} backend and reads errno on the calling thread`, () => {
  assert.equal(backend().runtime, CURRENT);
  assert.equal(libc().close(999_999), -1);
  assert.equal(errno(), 9);
});

test("IpcError carries errno, code, syscall and path in a std-style message", () => {
  const error = new IpcError(2, {
    syscall: "mq_open",
    path: "/jobs",
    action: "open message queue",
  });
  assert.equal(error.name, "IpcError");
  assert.equal(error.errno, 2);
  assert.equal(error.code, "ENOENT");
  assert.equal(error.syscall, "mq_open");
  assert.equal(error.path, "/jobs");
  assert.equal(
    error.message,
    'Cannot open message queue "/jobs": ENOENT (No such file or directory)',
  );
  assert.equal(new IpcError("EAGAIN", { syscall: "x" }).errno, 11);
  assert.equal(new IpcError(35, { syscall: "x" }).code, "EDEADLK");
});

test("sys() throws IpcError with the real errno; trySys() maps EAGAIN to undefined", () => {
  assert.throws(
    () => sys(() => libc().close(999_999), { syscall: "close" }),
    (e) => e instanceof IpcError && e.code === "EBADF" && e.syscall === "close",
  );
  const fd = eventfd();
  try {
    assert.equal(
      trySys(() => drainFd(fd), { syscall: "read" }),
      undefined,
    );
    signalFd(fd);
    assert.equal(trySys(() => drainFd(fd), { syscall: "read" }), 8);
  } finally {
    libc().close(fd);
  }
});

test("validatePosixName() rejects bad names with TypeError or RangeError", () => {
  assert.deepEqual([...validatePosixName("/a", "queue")], [47, 97, 0]);
  assert.throws(() => validatePosixName("a", "queue"), TypeError);
  assert.throws(() => validatePosixName("/a/b", "queue"), TypeError);
  assert.throws(() => validatePosixName("/a\0", "queue"), TypeError);
  assert.throws(() => validatePosixName("/", "queue"), RangeError);
  assert.equal(validatePosixName("/" + "é".repeat(127), "q").length, 256);
  assert.throws(
    () => validatePosixName("/" + "é".repeat(128), "q"),
    RangeError,
  );
  assert.throws(() => cString("a\0b"), TypeError);
});

test("pollDescriptorSync() waits on the monotonic clock and sees readiness", () => {
  const fd = eventfd();
  try {
    const start = performance.now();
    assert.equal(pollDescriptorSync(fd, "read", 50), false);
    assertElapsed(start, 49);
    assert.equal(pollDescriptorSync(fd, "write", 0), true);
    signalFd(fd);
    assert.equal(pollDescriptorSync(fd, "read"), true);
  } finally {
    libc().close(fd);
  }
});

test("waitForDescriptor() wakes on readiness, times out, and rejects when forgotten", async () => {
  const fd = eventfd();
  try {
    setTimeout(() => signalFd(fd), 10);
    await waitForDescriptor(fd, "read", { timeout: 5000 });
    drainFd(fd);
    await assert.rejects(
      waitForDescriptor(fd, "read", { timeout: 30 }),
      (e) => e instanceof DOMException && e.name === "TimeoutError",
    );
    const reason = new Error("closing");
    const pending = waitForDescriptor(fd, "read");
    forgetDescriptor(fd, reason);
    await assert.rejects(pending, (e) => e === reason);
    // two waiters on one descriptor both wake
    const both = Promise.all([
      waitForDescriptor(fd, "read", { timeout: 5000 }),
      waitForDescriptor(fd, "read", { timeout: 5000 }),
    ]);
    signalFd(fd);
    await both;
    assert.equal(pendingWaits(), 0);
  } finally {
    libc().close(fd);
  }
});

test("waitForDescriptor(): cancelling 100 pending waits leaves no thread, descriptor or registration behind", async () => {
  // Start the reactor first: its one thread and epoll descriptor stay for the
  // life of the process, by design.
  const warm = eventfd();
  signalFd(warm);
  await waitForDescriptor(warm, "read", { timeout: 5000 });
  libc().close(warm);
  const threadsBefore = threads();
  const descriptorsBefore = descriptors();
  const watchedBefore = watched(); // Deno's reactor keeps a stop eventfd
  const fds = Array.from({ length: 50 }, eventfd);
  try {
    const controller = new AbortController();
    const waits = fds.flatMap((fd) => [
      waitForDescriptor(fd, "read", { signal: controller.signal }),
      waitForDescriptor(fd, "read", { signal: controller.signal }),
    ]);
    assert.equal(pendingWaits(), 100);
    assert.equal(watched(), watchedBefore + 50);
    // No thread per wait: the runtimes start a JIT or GC helper at will,
    // so allow a couple, never a hundred.
    assert.ok(threads() - threadsBefore <= 2, `${threads()} threads`);
    controller.abort();
    const results = await Promise.allSettled(waits);
    assert.ok(
      results.every((r) =>
        r.status === "rejected" && r.reason instanceof DOMException &&
        r.reason.name === "AbortError"
      ),
    );
    assert.equal(pendingWaits(), 0);
    assert.equal(watched(), watchedBefore);
    assert.ok(threads() - threadsBefore <= 2, `${threads()} threads`);
  } finally {
    for (const fd of fds) libc().close(fd);
  }
  assert.equal(descriptors(), descriptorsBefore);
});

test("futexWaitSync() reports not-equal and timed-out; futexWake() counts waiters", () => {
  const word = new Int32Array(new SharedArrayBuffer(8));
  assert.equal(futexWaitSync(word, 0, 1), "not-equal");
  const start = performance.now();
  assert.equal(futexWaitSync(word, 1, 0, 30), "timed-out");
  assertElapsed(start, 29);
  assert.equal(futexWake(word, 0), 0);
  assert.throws(() => futexWaitSync(word, 2, 0), RangeError);
});

test("futexWait() resolves on wake; 100 cancelled waits share one helper thread and leave nothing behind", async () => {
  const word = new Int32Array(new SharedArrayBuffer(8));
  const woken = futexWait(word, 0, 0, { timeout: 5000 });
  setTimeout(() => {
    Atomics.store(word, 0, 1);
    futexWake(word, 0);
  }, 20);
  assert.ok(["ok", "not-equal"].includes(await woken));
  assert.equal(await futexWait(word, 0, 0), "not-equal");
  const threadsBefore = threads();
  const controller = new AbortController();
  const waits = Array.from(
    { length: 100 },
    (_, i) =>
      futexWait(word, i % 2, Atomics.load(word, i % 2), {
        signal: controller.signal,
      }),
  );
  assert.equal(pendingFutexWaits(), 100);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(threads() - threadsBefore <= 2, `${threads()} threads`);
  controller.abort();
  const results = await Promise.allSettled(waits);
  assert.ok(
    results.every((r) =>
      r.status === "rejected" && r.reason instanceof DOMException &&
      r.reason.name === "AbortError"
    ),
  );
  assert.equal(pendingFutexWaits(), 0);
  await assert.rejects(
    futexWait(word, 0, 1, { timeout: 20 }),
    (e) => e instanceof DOMException && e.name === "TimeoutError",
  );
  // A wait registered after all that still wakes, and only its own word:
  // a wake-up of word 0 finds no waiter there and leaves it pending.
  let settled = false;
  const later = futexWait(word, 1, 0, { timeout: 5000 }).finally(() =>
    settled = true
  );
  await new Promise((r) => setTimeout(r, 50)); // parked in the kernel
  assert.equal(futexWake(word, 0, 10), 0, "nobody waits on word 0");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(settled, false, "a wake-up of word 0 woke the wait on word 1");
  assert.equal(pendingFutexWaits(), 1);
  Atomics.store(word, 1, 7);
  assert.equal(futexWake(word, 1), 1, "the wait on word 1 was woken");
  assert.equal(await later, "ok");
  assert.equal(pendingFutexWaits(), 0);
});

test("futex waits and wakes across processes through shared memory", async () => {
  const name = testName();
  const cname = cString(name);
  const fd = sys(() => libc().shm_open(cname, 0o102 | 0o2000000, 0o600), {
    syscall: "shm_open",
  });
  try {
    sys(() => libc().ftruncate(fd, 4096), { syscall: "ftruncate" });
    const p = libc().mmap(null, 4096, 3, 1, fd, 0);
    const { viewMemory } = await import("../../ffi/mod.ts");
    const word = new Int32Array(viewMemory(p!, 4096), 0, 2);
    try {
      for (const runtime of RUNTIMES) {
        Atomics.store(word, 0, 0);
        Atomics.store(word, 1, 0);
        const peer = runPeerOk(runtime, "tests/helpers/futex_peer.ts", [name]);
        // the peer raises word[1] when it is about to wait on word[0]
        while (Atomics.load(word, 1) === 0) {
          await futexWait(word, 1, 0, { timeout: 10_000 });
        }
        await new Promise((r) => setTimeout(r, 50)); // parked in the kernel
        Atomics.store(word, 0, 42);
        const start = performance.now();
        assert.equal(futexWake(word, 0, 1), 1, "the peer was waiting");
        // Woken by this wake-up: not by its own 10 s timeout.
        assert.equal(await peer, "woke 42 ok");
        assertElapsed(start, 0, 5000);
      }
      // A wake-up taken by an async wait cancelled at that moment is passed
      // on: the peer, queued behind it on the same word, still wakes.
      Atomics.store(word, 0, 0);
      Atomics.store(word, 1, 0);
      const controller = new AbortController();
      const first = futexWait(word, 0, 0, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50)); // first in the queue
      const peer = runPeerOk(CURRENT, "tests/helpers/futex_peer.ts", [
        name,
        "once",
      ]);
      while (Atomics.load(word, 1) === 0) {
        await futexWait(word, 1, 0, { timeout: 10_000 });
      }
      await new Promise((r) => setTimeout(r, 50));
      const start = performance.now();
      futexWake(word, 0, 1);
      controller.abort();
      // The cancelled wait rejects with the abort (not with the wake-up it
      // took), and passes the wake-up on to the peer.
      await assert.rejects(first, assertDomError("AbortError"));
      assert.equal(await peer, "ok");
      assertElapsed(start, 0, 2000);
    } finally {
      libc().munmap(p, 4096);
    }
  } finally {
    libc().close(fd);
    libc().shm_unlink(cname);
  }
});

test("importing needs no permission; without --allow-ffi Deno's own error propagates; --allow-ffi alone is enough", async () => {
  const { execFileSync } = await import("node:child_process");
  const deno = `${ROOT}node_modules/deno/deno`;
  // Under Deno, node:child_process hands the parent's permissions to a
  // Deno child (even through a shell), which would defeat the test:
  // Deno.Command does not. Both get the peers' environment (no
  // FORCE_COLOR); Deno.Command only drops a variable with clearEnv.
  const args = (flags: string[]) => [
    "run",
    "--quiet",
    "--no-prompt",
    ...flags,
    `${ROOT}tests/helpers/permission_peer.ts`,
  ];
  const run = (...flags: string[]) =>
    "Deno" in globalThis
      ? new TextDecoder().decode(
        new Deno.Command(deno, {
          args: args(flags),
          clearEnv: true,
          env: peerEnv(),
        }).outputSync().stdout,
      ).trim()
      : execFileSync(deno, args(flags), { encoding: "utf8", env: peerEnv() })
        .trim();
  assert.equal(run(), "imported\nNotCapable true");
  assert.equal(run("--allow-read"), "imported\nNotCapable true");
  assert.equal(run("--allow-ffi"), "imported\nopened /proc");
});
