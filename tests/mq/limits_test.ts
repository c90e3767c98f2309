// The limit advice of MessageQueue.open() with exactly the permission the
// README documents (Deno `--allow-ffi`, nothing else), in a process that
// cannot exceed msg_max: the limits are read through libc, which Deno's
// /proc rules do not touch.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MessageQueue } from "../../mq/mod.ts";
import {
  IS_ROOT,
  killPeers,
  outputOf,
  startPeer,
  succeeded,
  testName,
} from "../helpers/peer.ts";
import { removeQuietly } from "../helpers/assert.ts";

afterEach(killPeers);

test("MessageQueue.open() names msg_max and sysctl under Deno with only --allow-ffi", async () => {
  const msgMax = Number(readFileSync("/proc/sys/fs/mqueue/msg_max", "utf8"));
  const name = testName();
  try {
    // Root may exceed msg_max: ask as nobody (CAP_SYS_RESOURCE dropped).
    const child = startPeer(
      "deno",
      "tests/helpers/mq_peer.ts",
      ["create", name, String(msgMax + 1), "64"],
      { permissions: ["--allow-ffi"], user: IS_ROOT ? "nobody" : undefined },
    );
    const output = await succeeded(child);
    const { stderr } = outputOf(child);
    assert.match(output, /^EINVAL /, stderr);
    assert.match(
      output,
      new RegExp(
        `maxMessages ${
          msgMax + 1
        } exceeds /proc/sys/fs/mqueue/msg_max \\(${msgMax}\\)`,
      ),
    );
    assert.match(output, /sysctl fs\.mqueue\.msg_max=/);
    assert.doesNotMatch(output, /hard limits/);
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});
