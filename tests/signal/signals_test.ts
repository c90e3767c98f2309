// signals() across real processes: values queued by a process of the other
// runtime and by a C program, each received exactly once with the sender's
// pid; losses counted; dispositions restored; runtime listeners kept; the
// process not kept alive; Deno's inspector not woken.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import process from "node:process";
import { errnoCapture, libc } from "../../ffi/mod.ts";
import {
  sendSignal,
  type SignalDelivery,
  signalNumber,
  signals,
} from "../../signal/mod.ts";
import {
  buildC,
  CURRENT,
  finished,
  killPeers,
  nextLine,
  outputOf,
  ROOT,
  type Runtime,
  RUNTIMES,
  startPeer,
  succeeded,
  testDir,
} from "../helpers/peer.ts";

afterEach(killPeers);

const PEER = "tests/helpers/signal_peer.ts";
const OTHER: Runtime = CURRENT === "deno" ? "bun" : "deno";
const NATIVE = errnoCapture() === "trampoline";
const native = { skip: !NATIVE && "the trampoline cannot load here" };

/** Whether this process catches `signal` (SigCgt in /proc/self/status). */
function caught(signal: number): boolean {
  const status = readFileSync("/proc/self/status", "utf8");
  const mask = BigInt("0x" + /SigCgt:\s*([0-9a-f]+)/.exec(status)![1]);
  return ((mask >> BigInt(signal - 1)) & 1n) === 1n;
}

async function take(
  it: AsyncIterator<SignalDelivery>,
  count: number,
  timeout = 20_000,
): Promise<SignalDelivery[]> {
  const got: SignalDelivery[] = [];
  const deadline = Date.now() + timeout;
  while (got.length < count) {
    const left = deadline - Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), Math.max(0, left));
      }),
    ]);
    clearTimeout(timer);
    if (r === "timeout") {
      assert.fail(`only ${got.length} of ${count} deliveries came in time`);
    }
    if (r.done) {
      assert.fail(`the iteration ended after ${got.length} of ${count}`);
    }
    got.push(r.value);
  }
  return got;
}

function assertEachOnce(got: SignalDelivery[], count: number, pid: number) {
  assert.equal(got.length, count);
  const values = got.map((d) => d.value).sort((a, b) => a! - b!);
  assert.deepEqual(values, Array.from({ length: count }, (_, i) => i));
  for (const d of got) {
    assert.equal(d.pid, pid);
    assert.equal(d.uid, process.getuid?.());
    assert.equal(d.code, -1); // SI_QUEUE
    assert.equal(d.lost, 0);
  }
}

test(
  `signals(): 1,000 values queued by a ${OTHER} process arrive once each, with its pid`,
  native,
  async () => {
    using it = signals(["SIGRTMIN+3"]);
    const peer = startPeer(OTHER, PEER, [
      "send",
      String(process.pid),
      "SIGRTMIN+3",
      "1000",
    ]);
    const got = await take(it, 1000);
    assert.equal(await succeeded(peer), "sent 1000");
    assertEachOnce(got, 1000, peer.pid!);
    assert.equal(got[0]!.signal, "SIGRTMIN+3");
    assert.equal(got[0]!.number, signalNumber("SIGRTMIN+3"));
    assert.equal(it.lost, 0);
  },
);

test(
  "signals(): 1,000 values queued by a C program arrive once each, with its pid",
  native,
  async () => {
    const sender = buildC("signal_sender");
    using it = signals(["SIGRTMIN+4"]);
    const peer = startPeer("exec", sender, [
      String(process.pid),
      String(signalNumber("SIGRTMIN+4")),
      "1000",
    ]);
    const got = await take(it, 1000);
    assert.equal(await succeeded(peer), "sent 1000");
    assertEachOnce(got, 1000, peer.pid!);
  },
);

for (const runtime of RUNTIMES) {
  test(
    `signals() in a ${runtime} process: values from a C program and from this ${CURRENT} process`,
    native,
    async () => {
      const receiver = startPeer(runtime, PEER, [
        "receive",
        "SIGRTMIN+2",
        "600",
      ]);
      const pid = Number((await nextLine(receiver)).split(" ")[1]);
      const c = startPeer("exec", buildC("signal_sender"), [
        String(pid),
        String(signalNumber("SIGRTMIN+2")),
        "300",
      ]);
      for (let i = 300; i < 600; i++) {
        sendSignal(pid, "SIGRTMIN+2", { value: i });
      }
      assert.equal(await succeeded(c), "sent 300");
      const summary = JSON.parse(await nextLine(receiver));
      await succeeded(receiver);
      assert.deepEqual(
        summary.values.sort((a: number, b: number) => a - b),
        Array.from({ length: 600 }, (_, i) => i),
      );
      assert.deepEqual(
        summary.pids.sort((a: number, b: number) => a - b),
        [c.pid!, process.pid].sort((a, b) => a - b),
      );
      assert.equal(summary.lost, 0);
    },
  );

  test(
    `signals() in ${runtime}: Deno's inspector never sees ipckit's SIGUSR1 deliveries`,
    native,
    async () => {
      const peer = startPeer(runtime, PEER, ["usr1", "100"]);
      assert.equal(await nextLine(peer), "ready");
      for (let i = 0; i < 100; i++) {
        process.kill(peer.pid!, "SIGUSR1");
        assert.equal(await nextLine(peer), `got ${i}`);
      }
      assert.equal(await nextLine(peer), "done");
      assert.equal(await nextLine(peer), "listening sockets 0");
      await succeeded(peer);
      assert.doesNotMatch(outputOf(peer).stderr, /Debugger|inspect/i);
    },
  );

  test(
    `signals() in ${runtime} does not keep the process alive`,
    native,
    async () => {
      const peer = startPeer(runtime, PEER, ["unref"]);
      assert.equal(await succeeded(peer, { timeout: 10_000 }), "listening");
    },
  );

  test(
    `signals() in ${runtime}: a SIGTERM it listens for does not end the process, even with temporaries to remove at exit`,
    native,
    async () => {
      const peer = startPeer(runtime, PEER, ["term"]);
      assert.equal(await nextLine(peer), "ready");
      process.kill(peer.pid!, "SIGTERM");
      assert.equal(await nextLine(peer), "got SIGTERM");
      assert.equal(await nextLine(peer), "removed at exit");
      await succeeded(peer);
    },
  );

  test(`signals() in ${runtime} without the trampoline: the runtime's listener, said once, no pid`, async () => {
    const peer = startPeer(runtime, PEER, ["fallback"]);
    assert.equal(await nextLine(peer), "ready runtime");
    // The runtime's listener may need a moment to be in place after ready.
    const line = nextLine(peer);
    const kicker = setInterval(() => process.kill(peer.pid!, "SIGUSR2"), 50);
    try {
      const delivery = JSON.parse(await line);
      assert.equal(delivery.signal, "SIGUSR2");
      assert.equal(delivery.number, 12);
      assert.equal("pid" in delivery, false); // undefined: JSON drops it
      assert.equal("value" in delivery, false);
    } finally {
      clearInterval(kicker);
    }
    await succeeded(peer);
    const warnings = outputOf(peer).stderr.match(/native signal handler/g);
    assert.equal(warnings?.length, 1);
  });

  test(
    `signals() in ${runtime}: deliveries beyond what the pipe holds are counted as lost, never silently`,
    native,
    async () => {
      const dir = testDir("signal-flood");
      const flag = `${dir}/go`;
      try {
        const count = 40_000;
        const peer = startPeer(runtime, PEER, [
          "flood",
          "SIGRTMIN+5",
          String(count),
          flag,
        ]);
        assert.equal(await nextLine(peer), "ready");
        const c = startPeer("exec", buildC("signal_sender"), [
          String(peer.pid!),
          String(signalNumber("SIGRTMIN+5")),
          String(count),
        ]);
        assert.equal(await succeeded(c, { timeout: 60_000 }), `sent ${count}`);
        writeFileSync(flag, "");
        const summary = JSON.parse(await nextLine(peer));
        await succeeded(peer);
        assert.equal(summary.delivered + summary.lost, count);
        assert.ok(summary.lost > 0, `nothing lost: ${JSON.stringify(summary)}`);
        assert.equal(summary.distinct, summary.delivered);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test(
  "signals(): a sender killed mid-flood leaves the iterator working, each value it got through once",
  native,
  async () => {
    using it = signals(["SIGRTMIN+15"]);
    const sender = startPeer("exec", buildC("signal_sender"), [
      String(process.pid),
      String(signalNumber("SIGRTMIN+15")),
      "1000000",
    ]);
    const first = await take(it, 50);
    sender.kill("SIGKILL");
    await finished(sender);
    // Whatever it queued before it died comes through; then a new value.
    sendSignal(process.pid, "SIGRTMIN+15", { value: -7 });
    const values: number[] = first.map((d) => d.value!);
    for (;;) {
      const [d] = await take(it, 1);
      if (d!.pid === process.pid) {
        assert.equal(d!.value, -7);
        break;
      }
      values.push(d!.value!);
    }
    assert.equal(new Set(values).size, values.length, "a value came twice");
    assert.equal(it.lost, 0);
  },
);

test(
  "signals(): ending the iteration restores the previous disposition",
  native,
  () => {
    const rt = signalNumber("SIGRTMIN+6");
    assert.equal(caught(rt), false);
    const it = signals(["SIGRTMIN+6"]);
    assert.equal(caught(rt), true);
    it.close();
    assert.equal(caught(rt), false);
    it.close(); // idempotent
  },
);

test(
  "signals(): aborting rejects a pending next() with the reason and restores the disposition",
  native,
  async () => {
    const rt = signalNumber("SIGRTMIN+7");
    const controller = new AbortController();
    const it = signals([rt], { signal: controller.signal });
    const pending = it.next();
    assert.equal(caught(rt), true);
    controller.abort(new Error("stop"));
    await assert.rejects(pending, /stop/);
    assert.equal(caught(rt), false);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(it.closed, true);
  },
);

test(
  "signals(): close() while next() waits ends it with done",
  native,
  async () => {
    const it = signals(["SIGRTMIN+8"]);
    const pending = it.next();
    it.close();
    assert.deepEqual(await pending, { value: undefined, done: true });
  },
);

test(
  "signals(): two iterators on one signal both get each delivery; one ending leaves the other listening",
  native,
  async () => {
    const a = signals(["SIGRTMIN+9"]);
    const b = signals(["SIGRTMIN+9", "SIGRTMIN+10"]);
    try {
      sendSignal(process.pid, "SIGRTMIN+9", { value: 1 });
      assert.equal((await take(a, 1))[0]!.value, 1);
      assert.equal((await take(b, 1))[0]!.value, 1);
      a.close();
      assert.equal(caught(signalNumber("SIGRTMIN+9")), true);
      sendSignal(process.pid, "SIGRTMIN+9", { value: 2 });
      sendSignal(process.pid, "SIGRTMIN+10", { value: 3 });
      const got = await take(b, 2);
      assert.deepEqual(got.map((d) => [d.signal, d.value]).sort(), [
        ["SIGRTMIN+10", 3],
        ["SIGRTMIN+9", 2],
      ]);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(caught(signalNumber("SIGRTMIN+9")), false);
  },
);

interface RuntimeSignals {
  Deno?: {
    addSignalListener(signal: "SIGUSR2", handler: () => void): void;
    removeSignalListener(signal: "SIGUSR2", handler: () => void): void;
  };
}

/** Adds a listener the runtime's own way; returns its removal. */
function runtimeListener(listener: () => void): () => void {
  const deno = (globalThis as RuntimeSignals).Deno;
  if (deno !== undefined) {
    deno.addSignalListener("SIGUSR2", listener);
    return () => deno.removeSignalListener("SIGUSR2", listener);
  }
  process.on("SIGUSR2", listener);
  return () => process.off("SIGUSR2", listener);
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test(
  `signals(): a ${CURRENT} listener added before keeps working beside it, and after`,
  native,
  async () => {
    let heard = 0;
    const remove = runtimeListener(() => heard++);
    try {
      const it = signals(["SIGUSR2"]);
      process.kill(process.pid, "SIGUSR2");
      const [d] = await take(it, 1);
      assert.equal(d!.pid, process.pid);
      await until("the runtime listener", () => heard === 1);
      it.close();
      process.kill(process.pid, "SIGUSR2");
      await until("the runtime listener after close", () => heard === 2);
    } finally {
      remove();
    }
  },
);

test(
  `signals(): a ${CURRENT} listener added while it listens gets deliveries too`,
  native,
  async () => {
    using it = signals(["SIGUSR2"]);
    let heard = 0;
    const remove = runtimeListener(() => heard++);
    try {
      // Bun's process.on() puts its own handler over ipckit's: ipckit puts
      // its own back on top within 200 ms and calls Bun's after it.
      await new Promise((r) => setTimeout(r, 500));
      process.kill(process.pid, "SIGUSR2");
      const [d] = await take(it, 1);
      assert.equal(d!.signal, "SIGUSR2");
      await until("the runtime listener", () => heard === 1);
    } finally {
      remove();
    }
  },
);

test(
  "signals(): a handler put over ipckit's is found and ipckit's put back on top",
  native,
  async () => {
    const rt = signalNumber("SIGRTMIN+13");
    using it = signals([rt]);
    // Something else (a library) installs SIG_IGN over ipckit's handler.
    const ignore = new BigUint64Array(19); // struct sigaction: 152 bytes
    ignore[0] = 1n; // SIG_IGN
    const replaced = new BigUint64Array(19);
    assert.equal(libc().sigaction(rt, ignore, replaced), 0);
    assert.notEqual(replaced[0], 1n);
    // ipckit checks every 200 ms and puts its handler back on top.
    await new Promise((r) => setTimeout(r, 600));
    sendSignal(process.pid, rt, { value: 5 });
    const [d] = await take(it, 1);
    assert.equal(d!.value, 5);
    it.close();
    // Closing restores what was there last: SIG_IGN.
    const now = new BigUint64Array(19);
    assert.equal(libc().sigaction(rt, null, now), 0);
    assert.equal(now[0], 1n);
    const dfl = new BigUint64Array(19); // SIG_DFL back, as the test found it
    assert.equal(libc().sigaction(rt, dfl, null), 0);
  },
);

test(
  "signals(): kill() deliveries carry the sender's pid and no value",
  native,
  async () => {
    using it = signals([signalNumber("SIGRTMIN+11")]);
    const peer = startPeer(OTHER, PEER, [
      "kill",
      String(process.pid),
      "SIGRTMIN+11",
    ]);
    const [d] = await take(it, 1);
    assert.equal(await succeeded(peer), "sent");
    assert.equal(d!.pid, peer.pid);
    assert.equal(d!.value, undefined);
    assert.equal(d!.code, 0); // SI_USER
  },
);

test("signals(): bad arguments are refused before anything is installed", () => {
  assert.throws(() => signals([]), RangeError);
  assert.throws(() => signals("SIGUSR1" as never), TypeError);
  assert.throws(() => signals(["SIGFOO" as never]), TypeError);
  assert.throws(() => signals(["SIGKILL"]), /SIGKILL cannot be caught/);
  assert.throws(() => signals(["SIGSTOP"]), RangeError);
  assert.throws(() => signals(["SIGSEGV"]), /fault the runtime handles/);
  assert.throws(() => signals([32]), /glibc keeps it/);
  assert.throws(() => signals([65]), RangeError);
  assert.throws(() => signals(["SIGRTMIN+99" as never]), RangeError);
  assert.throws(
    () => signals(["SIGUSR2"], { signal: 5 as never }),
    TypeError,
  );
  assert.throws(
    () => signals(["SIGUSR2"], { signal: AbortSignal.abort(new Error("no")) }),
    /no/,
  );
});

test("the native handler keeps errno, counts what a full pipe refuses, and chains once (C)", () => {
  const program = buildC("signal_handler_check", [`${ROOT}ffi/_trampoline.c`]);
  const out = execFileSync(program, { encoding: "utf8" });
  assert.equal(out.trim(), "ok");
});
