import { test } from "node:test";
import assert from "node:assert/strict";
import { libc, sys, waitForDescriptor } from "../../ffi/mod.ts";
import { repeatingCall } from "../../ffi/_repeating_call.ts";
import { buildC, runPeerOk, RUNTIMES } from "../helpers/peer.ts";

const SYS_FUTEX_WAITV = 449;
const ENOSYS = 38;
const EPERM = 1;

for (const runtime of RUNTIMES) {
  test(`without futex_waitv (a 5.15 kernel, seccomp ENOSYS) async futex waits poll and still wake (${runtime})`, async () => {
    const deny = buildC("deny_syscall");
    const out = await runPeerOk(
      runtime,
      "tests/helpers/futex_method_peer.ts",
      [],
      { wrap: [deny, String(SYS_FUTEX_WAITV), String(ENOSYS)] },
    );
    const report = JSON.parse(out);
    assert.equal(report.method, "poll");
    assert.deepEqual(report.outcomes, ["woke"]);
  });

  test(`futex_waitv refused by seccomp (EPERM): waits reject with EPERM at once, no busy loop (${runtime})`, async () => {
    const deny = buildC("deny_syscall");
    const out = await runPeerOk(
      runtime,
      "tests/helpers/futex_method_peer.ts",
      [],
      { wrap: [deny, String(SYS_FUTEX_WAITV), String(EPERM)] },
    );
    const report = JSON.parse(out);
    assert.equal(report.method, "refused EPERM");
    assert.deepEqual(report.outcomes, ["rejected EPERM"]);
    assert.ok(report.ms < 1000, `took ${report.ms} ms`);
  });

  test(`IPCKIT_FUTEX_WAIT=poll forces the polling method (${runtime})`, async () => {
    const out = await runPeerOk(
      runtime,
      "tests/helpers/futex_method_peer.ts",
      [],
      { wrap: ["env", "IPCKIT_FUTEX_WAIT=poll"] },
    );
    const report = JSON.parse(out);
    assert.equal(report.method, "poll");
    assert.deepEqual(report.outcomes, ["woke"]);
  });
}

test("a repeating call goes on after a turn that throws (it used to stop for good)", async () => {
  const errors: unknown[] = [];
  let turns = 0;
  let release!: () => void;
  const enough = new Promise<void>((resolve) => release = resolve);
  const keeper = repeatingCall(
    () => {
      turns++;
      if (turns === 2) throw new Error("a handler failed");
      if (turns === 3) return Promise.reject(new Error("a call failed"));
      if (turns >= 5) {
        keeper.unref();
        release();
        return undefined;
      }
      return new Promise<void>((resolve) => setTimeout(resolve, 1));
    },
    () => {},
    (error) => errors.push(error),
  );
  keeper.ref();
  await enough;
  assert.deepEqual(
    errors.map((e) => (e as Error).message),
    ["a handler failed", "a call failed"],
  );
  assert.ok(turns >= 5);
});

test("waitForDescriptor() reports which events fired: readable, hang-up", async () => {
  const fds = new Int32Array(2);
  sys(() => libc().pipe2(fds, 0o4000 | 0o2000000), { syscall: "pipe2" });
  const [reader, writer] = fds;
  try {
    libc().write(writer, new Uint8Array([1]), 1);
    const ready = await waitForDescriptor(reader, "read", { timeout: 1000 });
    assert.deepEqual(ready, {
      readable: true,
      writable: false,
      hangup: false,
      readHangup: false,
      error: false,
    });
    libc().close(writer);
    const gone = await waitForDescriptor(reader, "read", { timeout: 1000 });
    assert.equal(gone.hangup, true);
  } finally {
    libc().close(reader);
  }
});

test("an unref'd wait lets the process exit; a plain one keeps it alive", async () => {
  for (const runtime of RUNTIMES) {
    const started = performance.now();
    const out = await runPeerOk(runtime, "tests/helpers/unref_peer.ts", [
      "unref",
    ], { timeout: 10_000 });
    assert.equal(out, "waiting");
    assert.ok(performance.now() - started < 8000);
    const kept = await runPeerOk(runtime, "tests/helpers/unref_peer.ts", [
      "ref",
    ], { timeout: 10_000 });
    assert.equal(kept, "waiting\nwoken readable");
  }
});
