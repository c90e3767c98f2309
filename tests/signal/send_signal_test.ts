// sendSignal() and the signal names: kill or sigqueue, names and numbers,
// real-time signals, and the errors: unknown names, bad pids, denial.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { libc } from "../../ffi/mod.ts";
import {
  IpcError,
  sendSignal,
  signalName,
  signalNumber,
  signals,
} from "../../signal/mod.ts";
import { assertIpcError } from "../helpers/assert.ts";
import {
  CURRENT,
  killPeers,
  nextLine,
  rootTest,
  startPeer,
  succeeded,
} from "../helpers/peer.ts";

afterEach(killPeers);

const PEER = "tests/helpers/signal_peer.ts";

test("signalNumber() knows the classic names, the aliases and the numbers", () => {
  assert.equal(signalNumber("SIGHUP"), 1);
  assert.equal(signalNumber("SIGUSR1"), 10);
  assert.equal(signalNumber("SIGUSR2"), 12);
  assert.equal(signalNumber("SIGTERM"), 15);
  assert.equal(signalNumber("SIGCHLD"), 17);
  assert.equal(signalNumber("SIGSYS"), 31);
  assert.equal(signalNumber("SIGIOT" as never), 6);
  assert.equal(signalNumber("SIGPOLL" as never), 29);
  assert.equal(signalNumber(9), 9);
  assert.equal(signalNumber(64), 64);
});

test("signalNumber() counts real-time signals from glibc's SIGRTMIN", () => {
  const min = libc().__libc_current_sigrtmin();
  const max = libc().__libc_current_sigrtmax();
  assert.equal(signalNumber("SIGRTMIN"), min);
  assert.equal(signalNumber("SIGRTMIN+3"), min + 3);
  assert.equal(signalNumber("SIGRTMAX"), max);
  assert.equal(signalNumber("SIGRTMAX-2"), max - 2);
  assert.equal(signalNumber(`SIGRTMIN+${max - min}`), max);
  assert.throws(
    () => signalNumber(`SIGRTMIN+${max - min + 1}`),
    /outside the real-time signals/,
  );
  assert.throws(() => signalNumber("SIGRTMAX+1" as never), TypeError);
  assert.throws(() => signalNumber("SIGRTMIN-1" as never), TypeError);
});

test("signalNumber() refuses unknown names with a TypeError, bad numbers with a RangeError", () => {
  assert.throws(() => signalNumber("SIGFOO" as never), {
    name: "TypeError",
    message: /Unknown signal name "SIGFOO"/,
  });
  assert.throws(() => signalNumber("usr1" as never), TypeError);
  assert.throws(() => signalNumber("USR1" as never), TypeError);
  assert.throws(() => signalNumber(null as never), TypeError);
  assert.throws(() => signalNumber(0), RangeError);
  assert.throws(() => signalNumber(65), RangeError);
  assert.throws(() => signalNumber(1.5), RangeError);
  assert.throws(() => signalNumber(NaN), RangeError);
});

test("signalName() names numbers back", () => {
  assert.equal(signalName(10), "SIGUSR1");
  assert.equal(signalName(signalNumber("SIGRTMIN")), "SIGRTMIN");
  assert.equal(signalName(signalNumber("SIGRTMIN+5")), "SIGRTMIN+5");
  assert.equal(
    signalName(signalNumber("SIGRTMAX")),
    `SIGRTMIN+${
      libc().__libc_current_sigrtmax() - libc().__libc_current_sigrtmin()
    }`,
  );
  assert.equal(signalName(32), "SIG32");
  assert.throws(() => signalName(0), RangeError);
});

test("sendSignal() with signal 0 checks that a process exists", () => {
  sendSignal(process.pid, 0);
  assert.throws(
    () => sendSignal(0x3ffffff0, 0),
    assertIpcError("ESRCH", "kill"),
  );
});

test("sendSignal() to a process that does not exist is ESRCH, with and without a value", () => {
  assert.throws(() => sendSignal(0x3ffffff0, "SIGUSR2"), (e: unknown) => {
    assert.ok(e instanceof IpcError);
    assert.equal(e.code, "ESRCH");
    assert.equal(e.syscall, "kill");
    assert.match(e.message, /send SIGUSR2 to process 1073741808/);
    return true;
  });
  assert.throws(
    () => sendSignal(0x3ffffff0, "SIGRTMIN+1", { value: 1 }),
    assertIpcError("ESRCH", "sigqueue"),
  );
});

test("sendSignal() refuses bad arguments before any syscall", () => {
  assert.throws(() => sendSignal("1" as never, "SIGUSR2"), TypeError);
  assert.throws(() => sendSignal(1.5, "SIGUSR2"), RangeError);
  assert.throws(() => sendSignal(2 ** 31, "SIGUSR2"), RangeError);
  assert.throws(() => sendSignal(process.pid, "SIGNOPE" as never), TypeError);
  assert.throws(() => sendSignal(process.pid, 65), RangeError);
  assert.throws(
    () => sendSignal(process.pid, "SIGUSR2", { value: 2 ** 31 }),
    RangeError,
  );
  assert.throws(
    () => sendSignal(process.pid, "SIGUSR2", { value: "1" as never }),
    TypeError,
  );
  assert.throws(
    () => sendSignal(process.pid, "SIGUSR2", 5 as never),
    TypeError,
  );
});

test("sendSignal() queues negative and extreme 32-bit values intact", async () => {
  using it = signals(["SIGRTMIN+14"]);
  const values = [-0x80000000, -1, 0, 1, 0x7fffffff];
  for (const value of values) {
    sendSignal(process.pid, "SIGRTMIN+14", { value });
  }
  const got: (number | undefined)[] = [];
  for (let i = 0; i < values.length; i++) {
    const r = await it.next();
    got.push(r.value?.value);
  }
  assert.deepEqual(got.sort((a, b) => a! - b!), values);
});

rootTest(
  `sendSignal() from an unprivileged ${CURRENT} process to root's is EPERM`,
  "a peer runs as nobody",
  async () => {
    const peer = startPeer(CURRENT, PEER, [
      "kill",
      String(process.pid),
      "0", // signal 0: the permission check alone, nothing delivered
    ], { user: "nobody" });
    assert.equal(await nextLine(peer), "EPERM");
    await succeeded(peer);
  },
);
