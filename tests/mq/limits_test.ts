// The limit advice of MessageQueue.open() with exactly the permission the
// README documents (Deno `--allow-ffi`, nothing else), in a process that
// cannot exceed msg_max: the limits are read through libc, which Deno's
// /proc rules do not touch.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MessageQueue } from "../../mq/mod.ts";
import { ROOT, testName } from "../helpers/peer.ts";
import { removeQuietly } from "../helpers/assert.ts";
import { killChildren, launch } from "./_children.ts";

const IS_ROOT = process.getuid?.() === 0;

/**
 * A world-readable copy of what the peer needs (mq/, ffi/, the peer script
 * and the Deno binary) in a fresh directory, so that `nobody` can run it
 * wherever the checkout sits (a 0700 home directory included).
 */
function sandbox(): { dir: string; deno: string } {
  const dir = mkdtempSync(join(tmpdir(), "ipckit_test_limits-"));
  for (const part of ["mq", "ffi"]) {
    cpSync(join(ROOT, part), join(dir, part), {
      recursive: true,
      filter: (p) => !p.endsWith(".md"),
    });
  }
  mkdirSync(join(dir, "tests", "mq"), { recursive: true });
  copyFileSync(
    join(ROOT, "tests/mq/mq_test_peer.ts"),
    join(dir, "tests/mq/mq_test_peer.ts"),
  );
  mkdirSync(join(dir, "bin"));
  const deno = join(dir, "bin", "deno");
  try {
    linkSync(join(ROOT, "node_modules/deno/deno"), deno);
  } catch {
    copyFileSync(join(ROOT, "node_modules/deno/deno"), deno);
  }
  const open = (path: string) => {
    if (statSync(path).isDirectory()) {
      chmodSync(path, 0o755);
      for (const name of readdirSync(path)) open(join(path, name));
    } else {
      chmodSync(path, path === deno ? 0o755 : 0o644);
    }
  };
  open(dir);
  // Deno's cache: somewhere nobody may write.
  mkdirSync(join(dir, "cache"));
  chmodSync(join(dir, "cache"), 0o777);
  return { dir, deno };
}

test("MessageQueue.open() names msg_max and sysctl under Deno with only --allow-ffi", async () => {
  const msgMax = Number(readFileSync("/proc/sys/fs/mqueue/msg_max", "utf8"));
  const name = testName();
  const { dir, deno } = sandbox();
  try {
    const command = [
      deno,
      "run",
      "--allow-ffi",
      "--quiet",
      join(dir, "tests/mq/mq_test_peer.ts"),
      "create",
      name,
      String(msgMax + 1),
      "64",
    ];
    // Root may exceed msg_max: ask as nobody (CAP_SYS_RESOURCE dropped).
    const [cmd, ...args] = IS_ROOT
      ? [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "env",
        `DENO_DIR=${join(dir, "cache")}`,
        ...command,
      ]
      : command;
    const child = launch(cmd, args, { cwd: dir });
    const { code } = await child.exited;
    const output = child.lines.join("\n");
    assert.equal(code, 0, `${output}\n${child.stderr()}`);
    assert.match(output, /^EINVAL /, child.stderr());
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
    await killChildren();
    rmSync(dir, { recursive: true, force: true });
    removeQuietly(() => MessageQueue.unlink(name));
  }
});
