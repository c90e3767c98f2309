// The programs in examples/ do what their comments say, across real
// processes, with one side under Deno (with only the flag the root README
// documents, --allow-ffi) and the other under Bun, whichever runtime runs
// this file. Each run names its objects with the run's prefix and removes
// them.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MessageQueue } from "../../mq/mod.ts";
import { Semaphore, SysvSemaphoreSet } from "../../sem/mod.ts";
import { SharedMemory } from "../../shm/mod.ts";
import { removeQuietly } from "../helpers/assert.ts";
import {
  CURRENT,
  finished,
  killPeers,
  nextLine,
  type PeerOptions,
  ROOT,
  RUN_PREFIX,
  runPeerOk,
  type Runtime,
  signalPeer,
  startPeer,
  succeeded,
  testKey,
  testName,
} from "../helpers/peer.ts";

afterEach(killPeers);

const FLAGS: PeerOptions = { permissions: ["--allow-ffi"] };

test("job_queue.ts: a producer and two workers (Deno and Bun) do every job once, then the workers exit when idle", async () => {
  const name = testName();
  const jobs = 30;
  try {
    const workers = (["deno", "bun"] as Runtime[]).map((runtime) =>
      startPeer(runtime, "examples/job_queue.ts", ["worker", name], FLAGS)
    );
    for (const worker of workers) {
      assert.match(await nextLine(worker), /^worker \d+: ready$/);
    }
    const produced = await runPeerOk(
      "bun",
      "examples/job_queue.ts",
      ["producer", String(jobs), name],
    );
    assert.equal(produced, `producer: queued ${jobs} jobs`);
    const done: number[] = [];
    for (const worker of workers) {
      const output = await succeeded(worker, { timeout: 30_000 });
      const lines = output.split("\n");
      let count = 0;
      for (const line of lines) {
        const m = /^worker \d+: job (\d+) -> (\d+)$/.exec(line);
        if (m === null) continue;
        assert.equal(Number(m[2]), Number(m[1]) * 20, line);
        done.push(Number(m[1]));
        count++;
      }
      assert.match(
        lines.at(-1) ?? "",
        new RegExp(`^worker \\d+: idle, ${count} jobs done$`),
      );
    }
    done.sort((a, b) => a - b);
    assert.deepEqual(done, Array.from({ length: jobs }, (_, i) => i + 1));
    // The first worker to go idle removed the name.
    assert.throws(
      () => MessageQueue.open(name),
      (e: Error & { code?: string }) => e.code === "ENOENT",
    );
  } finally {
    removeQuietly(() => MessageQueue.unlink(name));
  }
});

test("job_queue.ts: bad arguments get a usage message and exit code 2", async () => {
  const child = startPeer("deno", "examples/job_queue.ts", ["nonsense"], FLAGS);
  child.stdin?.end();
  const result = await finished(child);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /usage: job_queue\.ts/);
});

test("shared_counter.ts: a holder SIGKILLed mid-update blocks nobody, and its half update is rolled back", async () => {
  const name = testName();
  try {
    const crash = startPeer(
      "deno",
      "examples/shared_counter.ts",
      ["crash", name],
      FLAGS,
    );
    crash.stdin?.end();
    const crashed = await finished(crash);
    assert.equal(crashed.signal, "SIGKILL", crashed.stderr);
    assert.match(crashed.stdout, /crashing while holding the lock/);
    const adders = (["bun", "deno"] as Runtime[]).map((runtime) => {
      const child = startPeer(
        runtime,
        "examples/shared_counter.ts",
        ["add", "200", name],
        FLAGS,
      );
      child.stdin?.end();
      return succeeded(child);
    });
    const outputs = await Promise.all(adders);
    // Exactly one of them found the dead holder's lock and repaired.
    const repairs = outputs.join("\n").match(/^repaired: .*$/gm) ?? [];
    assert.deepEqual(repairs, ["repaired: count 999999 rolled back to 0"]);
    const shown = await runPeerOk(
      "bun",
      "examples/shared_counter.ts",
      ["show", name],
    );
    assert.equal(shown, "count: 400");
    assert.equal(
      await runPeerOk(
        "deno",
        "examples/shared_counter.ts",
        ["remove", name],
        FLAGS,
      ),
      `removed ${name}`,
    );
  } finally {
    removeQuietly(() => SharedMemory.unlink(name));
  }
});

test("resource_pool.ts: two holders take the pool, a third gives up at its deadline, Ctrl-C gives permits back, a SIGKILLed holder's permit is lost", async () => {
  const name = testName();
  try {
    const holders = (["deno", "bun"] as Runtime[]).map((runtime) =>
      startPeer(
        runtime,
        "examples/resource_pool.ts",
        ["use", "60000", "20000", name],
        FLAGS,
      )
    );
    for (const holder of holders) {
      assert.match(await nextLine(holder), /^waiting for a permit/);
      assert.match(await nextLine(holder), /^got a permit; holding it/);
    }
    // The pool is empty: a third user gives up at its 200 ms deadline.
    const late = startPeer(
      "bun",
      "examples/resource_pool.ts",
      ["use", "10", "200", name],
    );
    late.stdin?.end();
    const gaveUp = await finished(late);
    assert.equal(gaveUp.code, 1, gaveUp.stderr);
    assert.match(gaveUp.stdout, /gave up: no permit within 200 ms/);
    // Ctrl-C (SIGINT) cancels the holders' wait; each gives its permit back.
    for (const holder of holders) {
      signalPeer(holder, "SIGINT");
      assert.match(await succeeded(holder), /interrupted; permit given back/);
    }
    const status = () =>
      runPeerOk("deno", "examples/resource_pool.ts", ["status", name], FLAGS);
    assert.equal(await status(), "2 of 2 permits free");
    // A holder killed outright never gives its permit back.
    const doomed = startPeer(
      "bun",
      "examples/resource_pool.ts",
      ["use", "60000", "20000", name],
    );
    await nextLine(doomed);
    assert.match(await nextLine(doomed), /^got a permit/);
    doomed.kill("SIGKILL");
    await finished(doomed);
    assert.equal(await status(), "1 of 2 permits free");
    assert.equal(
      await runPeerOk("bun", "examples/resource_pool.ts", ["remove", name]),
      `removed ${name}`,
    );
  } finally {
    removeQuietly(() => Semaphore.unlink(name));
  }
});

test("resource_pool_undo.ts: the permit of a SIGKILLed holder comes back (SEM_UNDO)", async () => {
  const key = String(testKey());
  try {
    const holder = startPeer(
      "deno",
      "examples/resource_pool_undo.ts",
      ["use", "60000", "20000", key],
      FLAGS,
    );
    assert.match(await nextLine(holder), /^waiting for a permit/);
    assert.match(await nextLine(holder), /^got a permit/);
    const status = () =>
      runPeerOk("bun", "examples/resource_pool_undo.ts", ["status", key]);
    assert.equal(await status(), "1 of 2 permits free");
    holder.kill("SIGKILL");
    await finished(holder);
    assert.equal(await status(), "2 of 2 permits free");
    // Both permits taken: a third user gives up at its deadline.
    const two = (["bun", "deno"] as Runtime[]).map((runtime) =>
      startPeer(
        runtime,
        "examples/resource_pool_undo.ts",
        ["use", "60000", "20000", key],
        FLAGS,
      )
    );
    for (const child of two) {
      await nextLine(child);
      assert.match(await nextLine(child), /^got a permit/);
    }
    const late = startPeer(
      "bun",
      "examples/resource_pool_undo.ts",
      ["use", "10", "200", key],
    );
    late.stdin?.end();
    const gaveUp = await finished(late);
    assert.equal(gaveUp.code, 1, gaveUp.stderr);
    assert.match(gaveUp.stdout, /gave up: no permit within 200 ms/);
    for (const child of two) child.kill("SIGKILL");
    await Promise.all(two.map((child) => finished(child)));
    assert.equal(await status(), "2 of 2 permits free");
    assert.equal(
      await runPeerOk(
        "deno",
        "examples/resource_pool_undo.ts",
        ["remove", key],
        FLAGS,
      ),
      "removed",
    );
  } finally {
    try {
      SysvSemaphoreSet.open(Number(key)).remove();
    } catch { /* removed above */ }
  }
});

test("kv_service.ts: a service over a Unix socket (mode 0600) answers get/set/stats from both runtimes, refuses a bad key with its code, and stops on request", async () => {
  const path = join(tmpdir(), `${RUN_PREFIX}_kv_${process.pid}.sock`);
  try {
    const service = startPeer(
      CURRENT,
      "examples/kv_service.ts",
      ["serve", path],
      FLAGS,
    );
    assert.equal(await nextLine(service), `serving on ${path}`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const client = (runtime: Runtime, ...args: string[]) =>
      runPeerOk(runtime, "examples/kv_service.ts", [...args, path], FLAGS);
    assert.equal(await client("bun", "set", "colour", "teal"), "ok");
    assert.equal(await client("deno", "get", "colour"), "teal");
    assert.equal(await client("bun", "get", "nothing"), "null");
    const refused = startPeer(
      "deno",
      "examples/kv_service.ts",
      ["set", "", "x", path],
      FLAGS,
    );
    refused.stdin?.end();
    const r = await finished(refused);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout.trim(),
      "refused: a key is a non-empty string (EBADKEY)",
    );
    assert.equal(await client("deno", "stats"), '{"keys":1,"calls":5}');
    assert.equal(await client("bun", "stop"), "stopping");
    const output = await succeeded(service);
    // Each client was seen with its pid and uid, from the kernel.
    const clients = output.match(/^client pid \d+ uid \d+$/gm) ?? [];
    assert.equal(clients.length, 6, output);
    assert.match(output, /^stopped$/m);
    assert.equal(existsSync(path), false, "the socket file is removed");
  } finally {
    rmSync(path, { force: true });
  }
});

test("signal_worker.ts: jobs queued with values from the other runtime arrive once each with the sender's pid; SIGHUP reloads; SIGTERM stops it cleanly", async () => {
  for (const runtime of ["bun", "deno"] as Runtime[]) {
    const worker = startPeer(
      runtime,
      "examples/signal_worker.ts",
      ["run"],
      FLAGS,
    );
    const ready = await nextLine(worker);
    const pid = /^worker (\d+): ready$/.exec(ready)?.[1];
    assert.ok(pid !== undefined, ready);
    const other: Runtime = runtime === "deno" ? "bun" : "deno";
    for (const job of [1, 2, 3]) {
      assert.equal(
        await runPeerOk(
          other,
          "examples/signal_worker.ts",
          ["send", pid, String(job)],
          FLAGS,
        ),
        `sent job ${job} to ${pid}`,
      );
    }
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await nextLine(worker));
    assert.deepEqual(
      jobs.map((l) => /^job (\d+) from pid \d+$/.exec(l)?.[1]).sort(),
      ["1", "2", "3"],
      jobs.join("\n"),
    );
    signalPeer(worker, "SIGHUP");
    assert.equal(
      await nextLine(worker),
      `reload asked by pid ${process.pid}`,
    );
    signalPeer(worker, "SIGTERM");
    assert.equal(
      await nextLine(worker),
      `SIGTERM from pid ${process.pid}: stopping`,
    );
    await succeeded(worker);
  }
});

test("mq_receiver.ts and mq_sender.ts: the receiver prints both jobs once, ends at stop and removes the queue", async () => {
  const receiver = startPeer(CURRENT, "examples/mq_receiver.ts", [], FLAGS);
  try {
    assert.equal(
      await nextLine(receiver),
      "waiting for jobs on /ipckit_example_jobs",
    );
    const other: Runtime = CURRENT === "deno" ? "bun" : "deno";
    assert.equal(
      await runPeerOk(other, "examples/mq_sender.ts", [], FLAGS),
      "sent 2 jobs and stop",
    );
    const output = await succeeded(receiver);
    // Both jobs, each once; the order depends on whether the receiver woke
    // before the second was queued.
    const jobs = output.split("\n").slice(1).sort();
    assert.deepEqual(jobs, [
      'job "renew certificate" (priority 9)',
      'job "resize photo.jpg" (priority 1)',
    ]);
  } finally {
    removeQuietly(() => MessageQueue.unlink("/ipckit_example_jobs"));
  }
});

test("every program in examples/ is run by this file", () => {
  const source = readFileSync(new URL(import.meta.url), "utf8");
  const programs = readdirSync(join(ROOT, "examples")).filter((n) =>
    n.endsWith(".ts") && !n.startsWith("_") && !n.startsWith("tour")
  );
  assert.ok(programs.length >= 8, programs.join(", "));
  for (const program of programs) {
    assert.ok(
      source.includes(`"examples/${program}"`),
      `examples/${program} has no test here`,
    );
  }
});
