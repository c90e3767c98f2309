// A generated bad-input sweep over every public entry point of mq/, shm/
// and sem/: each parameter and each option field replaced by wrong types,
// NaN, -1, fractions, 2^53, Infinity, huge sizes, bad names and paths, and
// every method called after close(), on fixtures where calls complete and
// where they wait. Every case must end in a TypeError, a RangeError or an
// IpcError, or succeed where the input is valid (a valid wait may time
// out, be aborted, or keep waiting until the handle closes), within 2 s,
// leaving nothing behind; cases run in child processes (see _runner.ts) so
// a crash or a hang fails one case, not the run.
//
// The pieces: _kinds.ts (the values, by kind of parameter), _mq.ts,
// _shm.ts, _sem.ts (each module's entry points), _spec.ts (cases from
// them, and the check that every export is described), _harness.ts (one
// case: fixture, call, outcome, leaks), _child.ts (a batch), _runner.ts
// (children, watchdog, restarts).
//
// SWEEP_RESULTS=<dir> writes each module's results as JSON there;
// SWEEP_BUDGET_S (45) caps each module's time; SWEEP_NO_NAMESPACES=1 runs
// the children as a user without root would. To replay cases by hand:
//   SWEEP_MODULE=shm SWEEP_ONLY='FileLock#lock(' SWEEP_DIR=$(mktemp -d) \
//     deno run --no-check -A tests/sweep/_child.ts
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  BUDGET_MS,
  counts,
  ISOLATION,
  passes,
  RUNTIME,
  sweep,
} from "./_runner.ts";

const isolation = ISOLATION.namespaces
  ? "private IPC and mount namespaces"
  : "no namespaces (not root?): leaks of private System V objects are not detected";

for (const module of ["mq", "shm", "sem"]) {
  test(
    `${module}/: every bad input ends in TypeError, RangeError or IpcError (${RUNTIME})`,
    {
      timeout: BUDGET_MS + 60_000, // the budget, then the last case and the report
    },
    async () => {
      const s = await sweep(module);
      const failing = s.results.filter((r) => !passes(r));
      const lines = [
        `${module}/ under ${RUNTIME}: ${s.results.length} cases in ${s.seconds} s, ` +
        `${s.children} child process(es), ${isolation}`,
        ...counts(s.results).map(([o, n]) =>
          `  ${String(n).padStart(5)}  ${o}`
        ),
      ];
      if (failing.length > 0) {
        lines.push(`  failing (${failing.length}):`);
        for (const r of failing) {
          lines.push(
            `    ${r.id} => ${r.outcome}` +
              (r.validity === "invalid" && r.outcome === "ok"
                ? " (silent success on invalid input)"
                : "") +
              (r.leaks ? ` leaked: ${r.leaks.join(", ")}` : "") +
              (r.note ? ` [${r.note}]` : ""),
          );
        }
      }
      // What passes but goes against STYLE.md: a wrong type refused with a
      // RangeError, a closed handle refused with another code than EBADF.
      const style = [
        ...s.results.filter((r) => r.wrongType && r.outcome === "RangeError")
          .map((r) => `${r.id} => RangeError for a wrong type: ${r.message}`),
        ...s.results.filter((r) =>
          r.state === "after close()" && r.outcome.startsWith("IpcError:") &&
          r.outcome !== "IpcError:EBADF"
        ).map((r) => `${r.id} => ${r.outcome}, not EBADF`),
      ];
      if (style.length > 0) {
        lines.push(`  passing, but not as STYLE.md asks (${style.length}):`);
        for (const line of style.slice(0, 15)) lines.push(`    ${line}`);
        if (style.length > 15) lines.push(`    ... ${style.length - 15} more`);
      }
      console.log(lines.join("\n"));
      const dir = process.env.SWEEP_RESULTS;
      if (dir) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          join(dir, `${module}_${RUNTIME}.json`),
          JSON.stringify(s, null, 1),
        );
      }
      assert.deepEqual(s.errors, [], "the sweep itself failed");
      assert.equal(s.canary, "ok", "the process was not sound after the cases");
      // A runtime may start a helper thread or two on first use; a wait that
      // leaves one behind per call would add hundreds.
      for (const g of s.threadGrowth) {
        assert.ok(
          g.grew <= 3,
          `child ${g.child} gained ${g.grew} threads, after: ${
            g.at.slice(0, 10).join(", ")
          }`,
        );
      }
      assert.deepEqual(
        failing.map((r) => `${r.id} => ${r.outcome}`),
        [],
        `${failing.length} of ${s.results.length} cases ended otherwise`,
      );
    },
  );
}

test(
  `the sweep runner charges a crash, a hang, memory growth, a leak and an unhandled rejection to one case each and carries on (${RUNTIME})`,
  {
    timeout: 60_000,
  },
  async () => {
    // The cases of MessageQueue.unlink only, some replaced by sabotage.
    const sabotage: Record<string, string> = {
      'unlink(name: "")': "crash",
      'unlink(name: "/a/b")': "hang",
      "unlink(name: 42)": "async-hang",
      "unlink(name: true)": "grow",
      "unlink(name: null)": "leak",
      "unlink(name: {})": "unhandled",
    };
    const s = await sweep("mq", {
      env: {
        SWEEP_ONLY: "MessageQueue.unlink",
        SWEEP_SELFTEST: JSON.stringify(sabotage),
        SWEEP_CALL_BOUND: "300",
      },
      caseLimitMs: 1_500,
      rssGrowthLimit: 40 << 20,
    });
    assert.deepEqual(s.errors, []);
    assert.equal(s.canary, "ok");
    const byId = (part: string) => {
      const r = s.results.find((r) => r.id.includes(part));
      assert.ok(r, `no result for ${part}`);
      return r;
    };
    assert.equal(byId('unlink(name: "")').outcome, "crash");
    assert.equal(byId('unlink(name: "/a/b")').outcome, "timeout");
    assert.equal(byId("unlink(name: 42)").outcome, "timeout");
    assert.match(byId("unlink(name: true)").outcome, /^other:memory/);
    assert.ok((byId("unlink(name: null)").leaks ?? []).length > 0);
    assert.equal(byId("unlink(name: {})").unhandled, true);
    for (const part of Object.keys(sabotage)) {
      assert.equal(passes(byId(part)), false, part);
    }
    // Every other case ran, in a new child after each crash or kill.
    const others = s.results.filter((r) =>
      !Object.keys(sabotage).some((part) => r.id.includes(part))
    );
    assert.ok(others.length >= 10, `${others.length} other cases`);
    assert.deepEqual(others.filter((r) => !passes(r)).map((r) => r.id), []);
    // The first child, one after the crash, two after the hang (it is tried
    // again before it counts), one after the memory growth.
    assert.equal(s.children, 5);
  },
);
