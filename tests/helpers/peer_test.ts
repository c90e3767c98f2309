// Tests of the peer helpers themselves: peers are tracked from the spawn,
// judged by their exit code, killed when a test leaves them behind, run
// without colour, and run as nobody from a copy anyone can read.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import {
  finished,
  hasExited,
  killPeers,
  nextLine,
  outputOf,
  outputUntil,
  ROOT,
  rootTest,
  RUN_KEY_BITS,
  RUN_PREFIX,
  runPeerOk,
  RUNTIMES,
  startPeer,
  succeeded,
  testKey,
  testName,
} from "./peer.ts";

afterEach(killPeers);

const ENV_PEER = "tests/helpers/env_peer.ts";

/** Rejects when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: not settled in ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

async function untilExited(child: Parameters<typeof hasExited>[0]) {
  const deadline = performance.now() + 10_000;
  while (!hasExited(child)) {
    assert.ok(performance.now() < deadline, "the peer did not exit");
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 100)); // its 'close' has come too
}

test("finished() resolves for a peer that exited before it was called", async () => {
  const child = startPeer("exec", "sh", ["-c", "echo early"]);
  await untilExited(child);
  const result = await within(finished(child), 2000, "finished()");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "early\n");
  assert.equal(await within(succeeded(child), 2000, "succeeded()"), "early");
});

test("succeeded() fails a peer that exits non-zero, showing its output", async () => {
  const child = startPeer("exec", "sh", [
    "-c",
    "echo partial; echo broken >&2; exit 3",
  ]);
  await assert.rejects(succeeded(child), (e: Error) => {
    assert.match(e.message, /exit code 3/);
    assert.match(e.message, /partial/);
    assert.match(e.message, /broken/);
    return true;
  });
  const killed = startPeer("exec", "sh", ["-c", "kill -9 $$"]);
  await assert.rejects(succeeded(killed), /SIGKILL/);
});

test("succeeded() fails at once a peer that printed its result but does not exit", async () => {
  const child = startPeer("exec", "sh", ["-c", "echo result; exec sleep 60"]);
  const start = performance.now();
  await assert.rejects(
    within(succeeded(child, { grace: 300 }), 5000, "succeeded()"),
    /printed its output but had not exited 300 ms later/,
  );
  assert.ok(performance.now() - start < 3000);
  assert.equal((await finished(child)).signal, "SIGKILL");
  // A peer that prints nothing is given its whole timeout.
  const quiet = startPeer("exec", "sh", ["-c", "sleep 0.5; echo late"]);
  assert.equal(await succeeded(quiet, { grace: 300 }), "late");
});

test("nextLine() returns successive lines, and rejects when the peer ends first", async () => {
  const child = startPeer("exec", "sh", ["-c", "echo one; echo two"]);
  assert.equal(await nextLine(child), "one");
  assert.equal(await nextLine(child), "two");
  await assert.rejects(nextLine(child), /before printing line 3/);
  assert.equal(await succeeded(child), "one\ntwo");
});

test("outputUntil() waits for lines that satisfy a predicate, and fails when the peer ends first or takes too long", async () => {
  const child = startPeer("exec", "sh", [
    "-c",
    "echo one; sleep 0.2; echo two; printf three",
  ]);
  const { lines } = await outputUntil(child, (l) => l.includes("two"));
  assert.deepEqual(lines, ["one", "two"]);
  assert.equal(await succeeded(child), "one\ntwo\nthree");
  // Once the peer exited, its unterminated last line counts too.
  assert.deepEqual(outputOf(child).lines, ["one", "two", "three"]);
  assert.deepEqual(
    (await outputUntil(child, (l) => l.at(-1) === "three")).lines,
    ["one", "two", "three"],
  );

  const early = startPeer("exec", "sh", ["-c", "echo partial; echo why >&2"]);
  await assert.rejects(
    outputUntil(early, (l) => l.includes("never")),
    (e: Error) => {
      assert.match(
        e.message,
        /ended \(exit code 0\) before the expected output/,
      );
      assert.match(e.message, /partial/);
      assert.match(e.message, /why/);
      return true;
    },
  );

  const slow = startPeer("exec", "sh", ["-c", "echo started; exec sleep 60"]);
  const start = performance.now();
  await assert.rejects(
    outputUntil(slow, (l) => l.includes("never"), 300),
    /printed no expected output in 300 ms \(killed\)/,
  );
  assert.ok(performance.now() - start < 3000);
  assert.equal((await finished(slow)).signal, "SIGKILL");
});

test("killPeers() kills every peer still running and waits for them", async () => {
  const a = startPeer("exec", "sleep", ["60"]);
  const b = startPeer("exec", "sleep", ["60"]);
  assert.equal(await killPeers(), 2);
  assert.equal(hasExited(a) && hasExited(b), true);
  assert.equal((await finished(a)).signal, "SIGKILL");
  assert.equal(await killPeers(), 0);
});

for (const runtime of RUNTIMES) {
  test(`a ${runtime} peer runs without FORCE_COLOR and with NO_COLOR`, async () => {
    const saved = process.env.FORCE_COLOR;
    process.env.FORCE_COLOR = "1";
    let child;
    try {
      child = startPeer(runtime, ENV_PEER);
    } finally {
      if (saved === undefined) delete process.env.FORCE_COLOR;
      else process.env.FORCE_COLOR = saved;
    }
    const [json, plain] = (await succeeded(child)).split("\n");
    const seen = JSON.parse(json);
    assert.equal(seen.FORCE_COLOR, null);
    assert.equal(seen.NO_COLOR, "1");
    assert.equal(plain, "false", "no colour escape");
  });
}

test("a deno peer started with permissions has those, not --allow-all", async () => {
  const child = startPeer("deno", ENV_PEER, [], {
    permissions: ["--allow-ffi"],
  });
  const result = await finished(child);
  assert.notEqual(result.code, 0, result.stdout);
  assert.match(result.stderr, /NotCapable: Requires sys access/);
});

for (const runtime of RUNTIMES) {
  test(`a sync spawn from a ${runtime} process started with FORCE_COLOR gives the child none`, async () => {
    // Deno's execFileSync adds the caller's environment back: importing
    // peer.ts removes FORCE_COLOR from the process itself.
    const child = startPeer(runtime, "tests/helpers/sync_spawn_peer.ts", [], {
      env: { FORCE_COLOR: "1" },
    });
    const [json, plain] = (await succeeded(child)).split("\n");
    assert.equal(JSON.parse(json).FORCE_COLOR, null);
    assert.equal(plain, "false", "no colour escape");
  });
}

rootTest(
  "a peer run as nobody runs from a world-readable copy, removed after",
  "switching to nobody",
  async () => {
    for (const runtime of RUNTIMES) {
      const seen = JSON.parse(
        (await runPeerOk(runtime, ENV_PEER, [], { user: "nobody" }))
          .split("\n")[0],
      );
      assert.equal(seen.uid, 65534);
      assert.ok(!seen.script.startsWith(ROOT), seen.script);
      assert.ok(seen.script.includes(`${RUN_PREFIX}-nobody-`), seen.script);
      const sandbox = dirname(dirname(dirname(seen.script)));
      assert.equal(existsSync(sandbox), false, `${sandbox} was removed`);
    }
  },
);

test("testName() and testKey() carry the run's prefix and key bits", () => {
  const name = testName();
  assert.match(name, /^\/ipckit_test\w*_[0-9a-f]{16}$/);
  assert.ok(name.startsWith(`/${RUN_PREFIX}_`));
  const key = testKey();
  assert.ok(key > 0 && key < 2 ** 31);
  assert.equal((key >>> 16) & 0x7fff, RUN_KEY_BITS);
  const high = testKey(true);
  assert.ok(high >= 2 ** 31 && high < 2 ** 32);
  assert.equal((high >>> 16) & 0x7fff, RUN_KEY_BITS);
});
