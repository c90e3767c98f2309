// Stopping listening right after taking a SIGTERM, SIGINT or SIGHUP must
// not let the process die of that signal afterwards. Under Deno its own
// thread applies the default action to a delivery it handles once no
// listener is left; ipckit reads the record sooner (the self-signal hook,
// the pipe reader), so it keeps Deno's listener until Deno has handled
// every delivery passed on. Many rounds in one child, in both runtimes.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { errnoCapture } from "../../ffi/mod.ts";
import {
  killPeers,
  nextLine,
  runPeerOk,
  RUNTIMES,
  startPeer,
  succeeded,
} from "../helpers/peer.ts";

afterEach(killPeers);

const PEER = "tests/signal/stop_peer.ts";
const native = {
  skip: errnoCapture() !== "trampoline" && "the trampoline cannot load here",
};
const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

for (const runtime of RUNTIMES) {
  for (const mode of ["self", "kill"]) {
    test(
      `signals() in ${runtime}: taking a signal that ends the process by default, then stopping, never ends it (${mode}, 300 rounds each)`,
      native,
      async () => {
        await Promise.all(
          SIGNALS.map(async (signal) => {
            const out = await runPeerOk(runtime, PEER, [mode, signal, "300"], {
              timeout: 20_000,
            });
            assert.equal(out, "ok", signal);
          }),
        );
      },
    );
  }

  test(
    `signals() in ${runtime}: SIGTERM, SIGINT, SIGHUP from another process taken, listening stopped, again: the peer never dies of one`,
    native,
    async () => {
      const rounds = 150;
      const child = startPeer(runtime, PEER, [
        "parent",
        SIGNALS.join(","),
        `${rounds}`,
      ]);
      for (let i = 0; i < rounds; i++) {
        assert.equal(await nextLine(child), `ready ${i}`);
        process.kill(child.pid!, SIGNALS[i % SIGNALS.length]!);
      }
      const out = await succeeded(child, { timeout: 20_000 });
      assert.equal(out.split("\n").at(-1), "ok");
    },
  );

  test(
    `signals() in ${runtime}: a SIGTERM taken, listening stopped, and the program ends at once: it ends with 0, not by the signal`,
    native,
    async () => {
      const once = async () => {
        const child = startPeer(runtime, PEER, ["end", "SIGTERM", "1"]);
        assert.equal(await nextLine(child), "ready 0");
        process.kill(child.pid!, "SIGTERM");
        const out = await succeeded(child, { timeout: 20_000 });
        assert.equal(out.split("\n").at(-1), "ok");
      };
      for (let i = 0; i < 6; i++) await Promise.all([once(), once(), once()]);
    },
  );
}
