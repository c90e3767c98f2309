// temporary() objects are removed on every exit JavaScript sees: the end
// of the program, process.exit(), an uncaught error or rejection, and
// SIGINT, SIGTERM or SIGHUP without a listener of the program's own (the
// process then still ends by the signal). A program that handles the
// signal itself keeps them until it exits. Peers run in both runtimes.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { MessageQueue, SysvMessageQueue } from "../../mq/mod.ts";
import { Semaphore, SysvSemaphoreSet } from "../../sem/mod.ts";
import { SharedMemory, SysvSharedMemory } from "../../shm/mod.ts";
import {
  claimSignal,
  IpcError,
  pendingExitRemovals,
  removeAtExit,
} from "../../ffi/mod.ts";
import {
  finished,
  killPeers,
  nextLine,
  type PeerOptions,
  type PeerResult,
  RUNTIMES,
  signalPeer,
  startPeer,
} from "../helpers/peer.ts";

afterEach(killPeers);

const PEER = "tests/ffi/exit_peer.ts";

interface Made {
  mq: string;
  sem: string;
  shm: string;
  msg: number;
  semset: number;
  seg: number;
  pending: number;
}

/** Whether opening it fails with one of `codes` (it is gone). */
function gone(open: () => { close(): void }, codes: string[]): boolean {
  try {
    open().close();
    return false;
  } catch (e) {
    if (e instanceof IpcError && codes.includes(e.code)) return true;
    throw e;
  }
}

/** Which of the peer's objects still exist; each one left is removed. */
function leftBehind(made: Made): string[] {
  const left: string[] = [];
  const check = (
    what: string,
    open: () => { close(): void },
    remove: () => void,
    codes = ["ENOENT"],
  ) => {
    if (!gone(open, codes)) {
      left.push(what);
      remove();
    }
  };
  check(
    `message queue ${made.mq}`,
    () => MessageQueue.open(made.mq),
    () => MessageQueue.unlink(made.mq),
  );
  check(
    `semaphore ${made.sem}`,
    () => Semaphore.open(made.sem),
    () => Semaphore.unlink(made.sem),
  );
  check(
    `shared memory ${made.shm}`,
    () => SharedMemory.open(made.shm),
    () => SharedMemory.unlink(made.shm),
  );
  const sysv = ["EINVAL", "EIDRM"];
  check(
    `System V queue ${made.msg}`,
    () => SysvMessageQueue.fromId(made.msg),
    () => SysvMessageQueue.remove(made.msg),
    sysv,
  );
  check(
    `System V semaphore set ${made.semset}`,
    () => SysvSemaphoreSet.fromId(made.semset),
    () => SysvSemaphoreSet.remove(made.semset),
    sysv,
  );
  check(
    `System V segment ${made.seg}`,
    () => SysvSharedMemory.fromId(made.seg),
    () => SysvSharedMemory.remove(made.seg),
    sysv,
  );
  return left;
}

async function run(
  runtime: (typeof RUNTIMES)[number],
  mode: string,
  then?: (child: ChildProcess) => Promise<void>,
  options: PeerOptions = {},
): Promise<{ made: Made; result: PeerResult; left: string[] }> {
  const child = startPeer(runtime, PEER, [mode], options);
  const made = JSON.parse(await nextLine(child)) as Made;
  try {
    assert.equal(made.pending, 6);
    if (then) await then(child);
    const result = await finished(child, 20_000);
    return { made, result, left: leftBehind(made) };
  } catch (e) {
    child.kill("SIGKILL");
    await finished(child);
    leftBehind(made);
    throw e;
  }
}

const output = (r: PeerResult) =>
  `\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

for (const runtime of RUNTIMES) {
  test(`temporary() objects of every kind go when a ${runtime} program ends normally, exits, or throws`, async () => {
    for (
      const [mode, code] of [
        ["normal", 0],
        ["exit", 3],
        ["throw", 1],
        ["reject", 1],
      ] as const
    ) {
      const { result, left } = await run(runtime, mode);
      assert.equal(result.signal, null, `${mode}${output(result)}`);
      assert.equal(result.code, code, `${mode}${output(result)}`);
      assert.deepEqual(left, [], `${mode}: left behind${output(result)}`);
    }
  });

  test(`temporary() objects go when a ${runtime} program gets SIGINT, SIGTERM or SIGHUP, and it still ends by the signal`, async () => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const { result, left } = await run(
        runtime,
        "wait",
        (child) => Promise.resolve(signalPeer(child, signal)),
      );
      assert.equal(result.signal, signal, `${signal}${output(result)}`);
      assert.deepEqual(left, [], `${signal}: left behind${output(result)}`);
    }
  });

  test(`a ${runtime} program that handles an uncaught error or rejection with process.on() keeps its temporaries until it exits`, async () => {
    for (const mode of ["handled-rejection", "handled-error"]) {
      const { result, left } = await run(runtime, mode, async (child) => {
        assert.equal(await nextLine(child), "still there");
      });
      assert.equal(result.code, 0, `${mode}${output(result)}`);
      assert.deepEqual(left, [], `${mode}${output(result)}`);
    }
  });

  test(`a ${runtime} program with its own SIGTERM listener keeps its temporaries until it exits`, async () => {
    const { result, left } = await run(runtime, "handled", async (child) => {
      signalPeer(child, "SIGTERM");
      assert.equal(await nextLine(child), "still there");
    });
    assert.equal(result.code, 0, output(result));
    assert.deepEqual(left, [], output(result));
  });

  test(`a ${runtime} program that claims SIGTERM for a listener of its own (Deno.addSignalListener under Deno) keeps its temporaries until it exits`, async () => {
    const { result, left } = await run(runtime, "claimed", async (child) => {
      assert.equal(await nextLine(child), "listening");
      signalPeer(child, "SIGTERM");
      assert.equal(await nextLine(child), "still there");
    });
    assert.equal(result.code, 0, output(result));
    assert.deepEqual(left, [], output(result));
  });

  // Deno is left out: as soon as a program listens for any signal, Deno
  // installs its own handlers for SIGHUP, SIGINT and SIGTERM, so SIGHUP is
  // no longer ignored under nohup, with or without ipckit.
  if (runtime === "bun") {
    test(`SIGHUP ignored by nohup stays ignored by a ${runtime} program with temporaries; SIGTERM still removes them`, async () => {
      const { made, result, left } = await run(
        runtime,
        "wait",
        async (child) => {
          signalPeer(child, "SIGHUP");
          signalPeer(child, "SIGUSR2");
          assert.equal(await nextLine(child), "alive");
          signalPeer(child, "SIGTERM");
        },
        { wrap: ["nohup"] },
      );
      assert.equal(result.signal, "SIGTERM", output(result));
      assert.deepEqual(left, [], `${made.mq}${output(result)}`);
    });
  }

  test(`closing a ${runtime} program's temporaries forgets their removal at exit`, async () => {
    const { result, left } = await run(runtime, "closed", async (child) => {
      assert.equal(await nextLine(child), "0");
    });
    assert.equal(result.code, 0, output(result));
    assert.deepEqual(left, []);
  });
}

test("removeAtExit() counts what it would remove and forgets idempotently", () => {
  const before = pendingExitRemovals();
  let removed = 0;
  const forget = removeAtExit(() => removed++);
  assert.equal(pendingExitRemovals(), before + 1);
  forget();
  forget();
  assert.equal(pendingExitRemovals(), before);
  assert.equal(removed, 0);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => removeAtExit("rm" as any), TypeError);
  using q = MessageQueue.temporary();
  assert.equal(pendingExitRemovals(), before + 1);
  q.close();
  assert.equal(pendingExitRemovals(), before);
  const release = claimSignal("SIGTERM");
  release();
  release();
  // deno-lint-ignore no-explicit-any
  assert.throws(() => claimSignal(15 as any), TypeError);
});
