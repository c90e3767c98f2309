// The ipckit command, run as a child process under both runtimes (Deno with
// --allow-ffi only, as documented) against objects this test makes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { afterEach, test } from "node:test";
import { MessageQueue, SysvMessageQueue } from "../../mq/mod.ts";
import { Semaphore, SysvSemaphoreSet } from "../../sem/mod.ts";
import { SharedMemory, SysvSharedMemory } from "../../shm/mod.ts";
import { USAGE } from "../../cli/ipckit.ts";
import { IpcError } from "../../ffi/mod.ts";
import { removeQuietly } from "../helpers/assert.ts";
import {
  buildC,
  finished,
  killPeers,
  type PeerOptions,
  type PeerResult,
  ROOT,
  rootTest,
  type Runtime,
  RUNTIMES,
  startPeer,
  testDir,
  testKey,
  testName,
} from "../helpers/peer.ts";

afterEach(killPeers);

const CLI = "cli/ipckit.ts";

async function ipckit(
  runtime: Runtime,
  args: readonly string[],
  options: PeerOptions = {},
): Promise<PeerResult> {
  const child = startPeer(runtime, CLI, args, {
    permissions: ["--allow-ffi"],
    ...options,
  });
  return await finished(child, 60_000);
}

function json<T>(result: PeerResult): T {
  assert.equal(result.code, 0, `ipckit failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface ObjectJson {
  kind: string;
  ref: string;
  name: string;
  id: number | null;
  key: string | null;
  size: number | null;
  mode: string;
  uid: number;
  owner: string;
  created: string;
  ageSeconds: number;
  detail: string;
}

interface Listing {
  objects: ObjectJson[];
  notes: string[];
}

const me = execFileSync("id", ["-un"], { encoding: "utf8" }).trim();
const uid = process.getuid?.() ?? -1;
const hex = (key: number) => `0x${key.toString(16).padStart(8, "0")}`;

/** Removes a System V object unless the command removed it already. */
function removeSysv(remove: () => void): void {
  try {
    remove();
  } catch (error) {
    // A removed id is EINVAL (or EIDRM while it goes).
    if (!(error instanceof IpcError && /^(EINVAL|EIDRM)$/.test(error.code))) {
      throw error;
    }
  }
}

/** One object of each kind, all removed by `remove()`. */
function makeObjects() {
  const name = testName();
  const keys = { msg: testKey(), sem: testKey(), shm: testKey() };
  const made: (() => void)[] = [];
  const remove = () => {
    for (const r of made.reverse()) r();
  };
  try {
    SharedMemory.open(name, {
      create: true,
      exclusive: true,
      size: 8192,
      mode: 0o640,
    })
      .close();
    made.push(() => removeQuietly(() => SharedMemory.unlink(name)));
    Semaphore.open(name, {
      create: true,
      exclusive: true,
      value: 3,
      mode: 0o600,
    })
      .close();
    made.push(() => removeQuietly(() => Semaphore.unlink(name)));
    {
      using q = MessageQueue.open(name, {
        create: true,
        exclusive: true,
        maxMessages: 4,
        messageSize: 128,
        mode: 0o600,
      });
      made.push(() => removeQuietly(() => MessageQueue.unlink(name)));
      q.sendSync("hello");
    }
    {
      using q = SysvMessageQueue.open(keys.msg, {
        create: true,
        exclusive: true,
        mode: 0o640,
      });
      const id = q.id;
      made.push(() => removeSysv(() => SysvMessageQueue.remove(id)));
      q.sendSync(1, "seven!!");
    }
    {
      using s = SysvSemaphoreSet.open(keys.sem, {
        create: true,
        exclusive: true,
        count: 3,
        mode: 0o600,
      });
      const id = s.id;
      made.push(() => removeSysv(() => SysvSemaphoreSet.remove(id)));
    }
    {
      using m = SysvSharedMemory.open(keys.shm, {
        create: true,
        exclusive: true,
        size: 4096,
        mode: 0o644,
      });
      const id = m.id;
      made.push(() => removeSysv(() => SysvSharedMemory.remove(id)));
    }
  } catch (e) {
    remove();
    throw e;
  }
  return { name, keys, remove };
}

function mqueueMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .filter((l) => l.includes(" - mqueue "));
}

function mqueueTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith("ipckit-mqueue-"));
}

for (const runtime of RUNTIMES) {
  test(`ipckit ls shows each kind with its size, mode, owner and age, as JSON and as a table (${runtime})`, async () => {
    const mountsBefore = mqueueMounts();
    const dirsBefore = mqueueTempDirs();
    const objects = makeObjects();
    try {
      const listing = json<Listing>(await ipckit(runtime, ["ls", "--json"]));
      const find = (kind: string, name: string) => {
        const found = listing.objects.filter((o) =>
          o.kind === kind && o.name === name
        );
        assert.equal(found.length, 1, `${kind} ${name} listed once`);
        return found[0]!;
      };
      const { name, keys } = objects;
      const shm = find("shm", name);
      assert.equal(shm.size, 8192);
      assert.equal(shm.mode, "0640");
      assert.equal(shm.ref, `shm:${name}`);
      const sem = find("sem", name);
      assert.equal(sem.size, null);
      assert.equal(sem.mode, "0600");
      assert.equal(sem.detail, "value 3");
      if (listing.notes.some((n) => /message queues/.test(n))) {
        // Only without root and without an mqueue mount.
        assert.ok(uid !== 0 && mountsBefore.length === 0, listing.notes.join());
      } else {
        const mq = find("mq", name);
        assert.equal(mq.size, 5); // "hello" queued
        assert.equal(mq.mode, "0600");
        assert.equal(mq.detail, "1/4 messages of up to 128 B");
      }
      const msg = find("sysv-msg", hex(keys.msg));
      assert.equal(msg.size, 7);
      assert.equal(msg.mode, "0640");
      assert.equal(msg.detail, "1 message");
      assert.equal(msg.key, hex(keys.msg));
      assert.equal(msg.ref, `sysv-msg:${msg.id}`);
      const set = find("sysv-sem", hex(keys.sem));
      assert.equal(set.detail, "3 semaphores");
      assert.equal(set.mode, "0600");
      const seg = find("sysv-shm", hex(keys.shm));
      assert.equal(seg.size, 4096);
      assert.equal(seg.mode, "0644");
      for (const o of [shm, sem, msg, set, seg]) {
        assert.equal(o.uid, uid);
        assert.equal(o.owner, me);
        assert.ok(o.ageSeconds >= 0 && o.ageSeconds < 600, `${o.ageSeconds}`);
        assert.ok(!Number.isNaN(Date.parse(o.created)));
      }

      // The table, filtered by the name's prefix (POSIX objects only).
      const table = await ipckit(runtime, ["ls", name.slice(1, -4)]);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trim().split("\n");
      assert.match(
        lines[0]!,
        /^KIND\s+NAME\s+ID\s+SIZE\s+MODE\s+OWNER\s+AGE\s+DETAIL$/,
      );
      const row = (kind: string) => {
        const found = lines.filter((l) => l.startsWith(`${kind} `));
        assert.equal(found.length, 1, `one ${kind} row in\n${table.stdout}`);
        return found[0]!.split(/\s{2,}/);
      };
      assert.deepEqual(row("shm").slice(0, 5), [
        "shm",
        name,
        "8.0 KiB",
        "0640",
        me,
      ]);
      assert.deepEqual(row("sem").slice(0, 5), ["sem", name, "-", "0600", me]);
      assert.ok(
        !table.stdout.includes("sysv-"),
        "a POSIX prefix lists no System V object",
      );
      // ...and by a System V key.
      const byKey = await ipckit(runtime, [
        "ls",
        "--kind",
        "sysv",
        hex(keys.shm),
      ]);
      assert.equal(byKey.code, 0, byKey.stderr);
      assert.equal(byKey.stdout.trim().split("\n").length, 2, byKey.stdout);
      assert.match(
        byKey.stdout,
        new RegExp(
          `^sysv-shm\\s+${
            hex(keys.shm)
          }\\s+${seg.id}\\s+4\\.0 KiB\\s+0644\\s+${me}\\s`,
          "m",
        ),
      );
    } finally {
      objects.remove();
    }
    // A private mqueue mount made for the listing is gone again.
    assert.deepEqual(mqueueMounts(), mountsBefore);
    assert.deepEqual(
      mqueueTempDirs().filter((d) => !dirsBefore.includes(d)),
      [],
    );
  });

  test(`ipckit rm --dry-run keeps the objects; rm by prefix, key and id removes them (${runtime})`, async () => {
    const objects = makeObjects();
    const { name, keys } = objects;
    try {
      const exists = () => ({
        shm: existsSync(`/dev/shm/${name.slice(1)}`),
        sem: existsSync(`/dev/shm/sem.${name.slice(1)}`),
        mq: (() => {
          try {
            MessageQueue.open(name).close();
            return true;
          } catch {
            return false;
          }
        })(),
        msg: (() => {
          try {
            SysvMessageQueue.open(keys.msg).close();
            return true;
          } catch {
            return false;
          }
        })(),
        semSet: (() => {
          try {
            SysvSemaphoreSet.open(keys.sem).close();
            return true;
          } catch {
            return false;
          }
        })(),
        seg: (() => {
          try {
            SysvSharedMemory.open(keys.shm).close();
            return true;
          } catch {
            return false;
          }
        })(),
      });
      const all = {
        shm: true,
        sem: true,
        mq: true,
        msg: true,
        semSet: true,
        seg: true,
      };
      assert.deepEqual(exists(), all);

      const dry = await ipckit(runtime, [
        "rm",
        "--dry-run",
        "--prefix",
        name,
        hex(keys.msg),
      ]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(
        dry.stdout,
        new RegExp(`^would remove POSIX shared memory ${name}$`, "m"),
      );
      assert.match(
        dry.stdout,
        new RegExp(`^would remove POSIX named semaphore ${name}$`, "m"),
      );
      assert.match(
        dry.stdout,
        new RegExp(`^would remove POSIX message queue ${name}$`, "m"),
      );
      assert.match(
        dry.stdout,
        new RegExp(
          `^would remove System V message queue ${
            hex(keys.msg)
          } \\(id \\d+\\)$`,
          "m",
        ),
      );
      assert.equal(dry.stdout.trim().split("\n").length, 4, dry.stdout);
      assert.deepEqual(exists(), all);

      // One kind only, named with its kind.
      const one = json<
        { removed: string[]; failed: unknown[]; missing: string[] }
      >(
        await ipckit(runtime, ["rm", "--json", `sem:${name}`]),
      );
      assert.deepEqual(one, {
        ...one,
        removed: [`sem:${name}`],
        failed: [],
        missing: [],
      });
      assert.deepEqual(exists(), { ...all, sem: false });

      const byPrefix = await ipckit(runtime, ["rm", "--prefix", name.slice(1)]);
      assert.equal(byPrefix.code, 0, byPrefix.stderr);
      assert.deepEqual(exists(), { ...all, shm: false, sem: false, mq: false });

      const listing = json<Listing>(
        await ipckit(runtime, ["ls", "--json", "--kind", "sysv-sem"]),
      );
      const set = listing.objects.find((o) => o.key === hex(keys.sem));
      assert.ok(set?.id !== undefined && set.id !== null);
      const bySysv = await ipckit(runtime, [
        "rm",
        hex(keys.msg),
        `sysv-sem:${set.id}`,
        `sysv-shm:${hex(keys.shm)}`,
      ]);
      assert.equal(bySysv.code, 0, bySysv.stderr);
      assert.equal(bySysv.stdout.trim().split("\n").length, 3, bySysv.stdout);
      assert.deepEqual(exists(), {
        shm: false,
        sem: false,
        mq: false,
        msg: false,
        semSet: false,
        seg: false,
      });
    } finally {
      objects.remove();
    }
  });

  test(`ipckit rm says which names it did not find (exit 1) and never removes everything unasked (exit 2) (${runtime})`, async () => {
    const name = testName();
    SharedMemory.open(name, { create: true, size: 4096 }).close();
    try {
      const missing = testName();
      const r = await ipckit(runtime, ["rm", name, missing]);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        new RegExp(`^removed POSIX shared memory ${name}$`, "m"),
      );
      assert.match(r.stderr, new RegExp(`no object named ${missing}`));
      assert.equal(existsSync(`/dev/shm/${name.slice(1)}`), false);

      for (
        const args of [["rm"], ["rm", "--dry-run"], ["rm", "--kind", "shm"], [
          "rm",
          "--prefix",
          "/",
        ]]
      ) {
        const bad = await ipckit(runtime, args);
        assert.equal(bad.code, 2, `${args.join(" ")}: ${bad.stderr}`);
        assert.equal(bad.stdout, "");
        assert.ok(bad.stderr.includes(USAGE), bad.stderr);
      }
    } finally {
      removeQuietly(() => SharedMemory.unlink(name));
    }
  });

  test(`ipckit rejects bad arguments with its usage on stderr and exit code 2; --help prints it (${runtime})`, async () => {
    const cases: [string[], RegExp][] = [
      [[], /no command given/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["ls", "--bogus"], /unknown option --bogus/],
      [["ls", "a", "b"], /at most one PREFIX/],
      [["ls", "--kind", "pipes"], /unknown kind "pipes"/],
      [["ls", "--kind"], /--kind needs a value/],
      [["ls", "--dry-run"], /--dry-run is not an option of ls/],
      [["ls", "--json=yes"], /--json takes no value/],
      [["doctor", "extra"], /doctor takes no arguments/],
      [["rm", "--all", "/x"], /--all takes no names/],
      [["rm", "/a/b"], /only the leading "\/" is allowed/],
      [["rm", "sysv-shm:abc"], /by id or 0xKEY/],
      [["rm", "pipe:/x"], /unknown kind "pipe"/],
    ];
    for (const [args, reason] of cases) {
      const r = await ipckit(runtime, args);
      assert.equal(r.code, 2, `ipckit ${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "", args.join(" "));
      assert.match(r.stderr, reason);
      assert.ok(r.stderr.endsWith(`${USAGE}\n`), r.stderr);
    }
    for (const help of [["--help"], ["-h"], ["help"], ["ls", "--help"]]) {
      const r = await ipckit(runtime, help);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${USAGE}\n`);
    }
  });

  test(`ipckit doctor shows the limits that bite, with advice, as a table and as JSON (${runtime})`, async () => {
    const read = (path: string) => readFileSync(path, "utf8").trim();
    const { checks } = json<{
      checks: {
        name: string;
        value: string;
        number?: number;
        status: string;
        advice: string;
      }[];
    }>(await ipckit(runtime, ["doctor", "--json"]));
    const check = (name: string) => {
      const c = checks.find((x) => x.name === name);
      assert.ok(c, `${name} in ${checks.map((x) => x.name).join(", ")}`);
      assert.match(c.status, /^(ok|low|warn|info)$/);
      assert.ok(c.advice.length > 10, c.advice);
      return c;
    };
    for (const limit of ["msg_max", "msgsize_max", "queues_max"]) {
      const c = check(`fs.mqueue.${limit}`);
      assert.equal(c.number, Number(read(`/proc/sys/fs/mqueue/${limit}`)));
    }
    assert.match(
      check("fs.mqueue.msg_max").advice,
      /sysctl -w fs\.mqueue\.msg_max=/,
    );
    const limits = read("/proc/self/limits");
    const soft = /^Max msgqueue size\s+(\d+)/m.exec(limits)?.[1];
    const rlimit = check("RLIMIT_MSGQUEUE");
    assert.equal(rlimit.number, Number(soft));
    assert.match(rlimit.advice, /ulimit -q/);
    const shm = check("/dev/shm free");
    assert.ok((shm.number ?? -1) >= 0);
    assert.match(
      check("fs.pipe-max-size").value,
      new RegExp(`^${read("/proc/sys/fs/pipe-max-size")} B$`),
    );
    const kernel = check("kernel");
    assert.equal(kernel.value, release());
    assert.match(kernel.advice, /futex_waitv/);
    const glibc = execFileSync("getconf", ["GNU_LIBC_VERSION"], {
      encoding: "utf8",
    }).trim();
    assert.equal(`glibc ${check("glibc").value}`, glibc);
    check("kernel.msgmnb");
    check("kernel.sem");

    const table = await ipckit(runtime, ["doctor"]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    assert.match(lines[0]!, /^LIMIT\s+VALUE\s+STATUS\s+ADVICE$/);
    assert.equal(lines.length, checks.length + 1);
    assert.match(
      table.stdout,
      new RegExp(
        `^fs\\.mqueue\\.msg_max\\s+${
          read("/proc/sys/fs/mqueue/msg_max")
        }\\s+(ok|low)\\s+\\S`,
        "m",
      ),
    );
  });

  test(`ipckit doctor says when async futex waits poll (no futex_waitv) and when futex_waitv is refused (seccomp) (${runtime})`, async () => {
    const deny = buildC("deny_syscall");
    const SYS_FUTEX_WAITV = "449";
    const kernelCheck = async (wrap: string[]) => {
      const { checks } = json<{
        checks: { name: string; status: string; advice: string }[];
      }>(await ipckit(runtime, ["doctor", "--json"], { wrap }));
      const kernel = checks.find((c) => c.name === "kernel");
      assert.ok(kernel);
      return kernel;
    };
    const missing = await kernelCheck([deny, SYS_FUTEX_WAITV, "38"]); // ENOSYS
    assert.equal(missing.status, "warn");
    assert.match(missing.advice, /poll/);
    const refused = await kernelCheck([deny, SYS_FUTEX_WAITV, "1"]); // EPERM
    assert.equal(refused.status, "warn");
    assert.match(refused.advice, /futex_waitv is refused \(EPERM\)/);
    assert.match(refused.advice, /seccomp/);
  });

  rootTest(
    `ipckit as nobody lists root's objects but cannot remove them: exit 1, EACCES (${runtime})`,
    "runs the command as nobody",
    async () => {
      const name = testName();
      const key = testKey();
      SharedMemory.open(name, { create: true, size: 4096, mode: 0o644 })
        .close();
      let segment: number | undefined;
      try {
        using m = SysvSharedMemory.open(key, {
          create: true,
          size: 4096,
          mode: 0o644,
        });
        segment = m.id;
        const listing = json<Listing>(
          await ipckit(runtime, ["ls", "--json"], { user: "nobody" }),
        );
        const shm = listing.objects.find((o) =>
          o.kind === "shm" && o.name === name
        );
        assert.equal(shm?.owner, "root");
        assert.equal(shm?.mode, "0644");
        assert.equal(shm?.size, 4096);
        const seg = listing.objects.find((o) => o.key === hex(key));
        assert.equal(seg?.owner, "root");
        assert.equal(seg?.detail, "1 attached");

        const r = await ipckit(runtime, ["rm", name, hex(key)], {
          user: "nobody",
        });
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `Cannot remove POSIX shared memory "${name}": (EACCES|EPERM)`,
          ),
        );
        assert.match(
          r.stderr,
          /Cannot remove System V shared memory "id \d+": EPERM/,
        );
        assert.equal(existsSync(`/dev/shm/${name.slice(1)}`), true);
        SysvSharedMemory.open(key).close(); // still there

        const doctor = await ipckit(runtime, ["doctor"], { user: "nobody" });
        assert.equal(doctor.code, 0, doctor.stderr);
        assert.match(doctor.stdout, /^RLIMIT_MSGQUEUE\s/m);
      } finally {
        removeQuietly(() => SharedMemory.unlink(name));
        if (segment !== undefined) {
          const id = segment;
          removeSysv(() => SysvSharedMemory.remove(id));
        }
      }
    },
  );
}

test("ipckit under Deno without --allow-ffi says which flag it needs (exit 1), never an empty listing", async () => {
  // Deno's child_process rewrites the arguments of the Deno binary it runs
  // itself (a `deno run` with no permission flag gets -A): run it by another
  // path.
  const dir = testDir("cli-deno");
  const deno = join(dir, "deno");
  symlinkSync(`${ROOT}node_modules/deno/deno`, deno);
  try {
    for (
      const args of [
        ["ls"],
        ["ls", "--kind", "shm"],
        ["ls", "--kind", "sysv", "--json"],
        ["rm", "--dry-run", "/x"],
        ["doctor"],
      ]
    ) {
      const r = await finished(
        startPeer("exec", deno, [
          "run",
          "--no-prompt",
          "--quiet",
          `${ROOT}${CLI}`,
          ...args,
        ]),
        60_000,
      );
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "", args.join(" "));
      assert.match(r.stderr, /^ipckit: .*--allow-ffi/);
      assert.match(r.stderr, /Run it with --allow-ffi/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Runs the command in a mount namespace of its own with every mqueue mount
 * unmounted (as on a host where /dev/mqueue is not mounted).
 */
const WITHOUT_MQUEUE_MOUNT = [
  "unshare",
  "--mount",
  "--propagation",
  "private",
  "sh",
  "-c",
  `for m in $(awk '$3 == "mqueue" { print $2 }' /proc/mounts); do umount "$m" || exit 9; done; exec "$@"`,
  "sh",
];

for (const runtime of RUNTIMES) {
  rootTest(
    `ipckit without an mqueue mount: root lists queues through a private mount, nobody is told why it cannot and rm still finds a queue by name (${runtime})`,
    "unshares a mount namespace and runs the command as nobody",
    async () => {
      const name = testName();
      try {
        MessageQueue.open(name, { create: true, mode: 0o644 }).close();
        const asRoot = json<Listing>(
          await ipckit(runtime, ["ls", "--json", "--kind", "mq"], {
            wrap: WITHOUT_MQUEUE_MOUNT,
          }),
        );
        assert.deepEqual(asRoot.notes, []);
        assert.equal(
          asRoot.objects.filter((o) => o.name === name && o.kind === "mq")
            .length,
          1,
        );

        const asNobody = json<Listing>(
          await ipckit(runtime, ["ls", "--json", "--kind", "mq"], {
            wrap: WITHOUT_MQUEUE_MOUNT,
            user: "nobody",
          }),
        );
        assert.deepEqual(asNobody.objects, []);
        assert.equal(asNobody.notes.length, 1);
        assert.match(
          asNobody.notes[0]!,
          /^Cannot list message queues: no mqueue file system is mounted, and only root can mount one/,
        );

        const dry = await ipckit(runtime, ["rm", "--dry-run", name], {
          wrap: WITHOUT_MQUEUE_MOUNT,
          user: "nobody",
        });
        assert.equal(dry.code, 0, dry.stderr);
        assert.equal(dry.stdout, `would remove POSIX message queue ${name}\n`);
        const rm = await ipckit(runtime, ["rm", name], {
          wrap: WITHOUT_MQUEUE_MOUNT,
          user: "nobody",
        });
        assert.equal(rm.code, 1);
        assert.match(
          rm.stderr,
          new RegExp(`Cannot remove POSIX message queue "${name}": EACCES`),
        );
        MessageQueue.open(name).close(); // still there
      } finally {
        removeQuietly(() => MessageQueue.unlink(name));
      }
    },
  );
}

test("cli/bin.mjs under Node runs the command with Bun or Deno, and says what to install when it finds neither", async () => {
  const bin = `${ROOT}cli/bin.mjs`;
  const runtimes = {
    bun: `${ROOT}node_modules/bun/bin/bun.exe`,
    deno: `${ROOT}node_modules/deno/deno`,
  };
  for (const [kind, path] of Object.entries(runtimes)) {
    const child = startPeer("exec", "node", [
      bin,
      "ls",
      "--json",
      "--kind",
      "sysv",
    ], {
      env: { IPCKIT_RUNTIME: path },
    });
    const r = await finished(child, 60_000);
    assert.equal(r.code, 0, `${kind}: ${r.stderr}`);
    assert.ok(Array.isArray((JSON.parse(r.stdout) as Listing).objects));
    // The exit status passes through.
    const bad = await finished(
      startPeer("exec", "node", [bin, "ls", "--nope"], {
        env: { IPCKIT_RUNTIME: path },
      }),
      60_000,
    );
    assert.equal(bad.code, 2, `${kind}: ${bad.stderr}`);
    assert.match(bad.stderr, /unknown option --nope/);
  }
  const none = await finished(
    startPeer("exec", "node", [bin, "ls"], {
      env: { IPCKIT_RUNTIME: "/nonexistent/bun" },
    }),
    60_000,
  );
  assert.equal(none.code, 1);
  assert.match(none.stderr, /needs Bun or Deno/);
});

test(
  "cli/bin.mjs runs the command compiled to JavaScript (the npm package's dist/cli/) under Node, Bun and Deno",
  {
    timeout: 180_000,
  },
  async () => {
    const dist = testDir("cli-dist");
    try {
      // The npm build's compilation (scripts/build.mjs), of the command alone.
      const tsc = await finished(
        startPeer("exec", "node", [
          `${ROOT}node_modules/typescript/bin/tsc`,
          ...["--outDir", dist, "--rootDir", ROOT, "--target", "ES2022"],
          ...["--module", "ESNext", "--moduleResolution", "bundler"],
          "--rewriteRelativeImportExtensions",
          "--allowImportingTsExtensions",
          ...["--noCheck", "--skipLibCheck", "--types", "bun-types"],
          `${ROOT}cli/ipckit.ts`,
        ]),
        120_000,
      );
      assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
      copyFileSync(`${ROOT}cli/bin.mjs`, join(dist, "cli/bin.mjs"));
      assert.equal(existsSync(join(dist, "cli/ipckit.ts")), false);
      const bin = join(dist, "cli/bin.mjs");
      const runs: [string, string[], Record<string, string>][] = [
        ["node", [bin], {
          IPCKIT_RUNTIME: `${ROOT}node_modules/bun/bin/bun.exe`,
        }],
        ["node", [bin], { IPCKIT_RUNTIME: `${ROOT}node_modules/deno/deno` }],
        [`${ROOT}node_modules/bun/bin/bun.exe`, [bin], {}],
        [`${ROOT}node_modules/deno/deno`, ["run", "--allow-ffi", bin], {}],
      ];
      for (const [cmd, argv, env] of runs) {
        const what = `${cmd} ${argv.join(" ")} ${JSON.stringify(env)}`;
        const ok = await finished(
          startPeer("exec", cmd, [...argv, "doctor", "--json"], { env }),
          60_000,
        );
        assert.equal(ok.code, 0, `${what}: ${ok.stderr}`);
        const { checks } = JSON.parse(ok.stdout) as {
          checks: { name: string }[];
        };
        assert.ok(checks.some((c) => c.name === "glibc"), what);
        const bad = await finished(
          startPeer("exec", cmd, [...argv, "rm"], { env }),
          60_000,
        );
        assert.equal(bad.code, 2, `${what}: ${bad.stderr}`);
        assert.match(bad.stderr, /rm needs names/);
      }
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  },
);

test(
  "the package's bin: npm pack, an offline install into a fresh project, then npx ipckit (Node re-runs it under Deno) and bunx ipckit",
  {
    timeout: 240_000,
  },
  async () => {
    const dir = testDir("cli-pack");
    try {
      const pkg = join(dir, "pkg");
      const project = join(dir, "project");
      mkdirSync(project);
      for (const folder of ["cli", "ffi"]) {
        cpSync(join(ROOT, folder), join(pkg, folder), { recursive: true });
      }
      writeFileSync(
        join(pkg, "package.json"),
        JSON.stringify({
          name: "ipckit-bin-probe",
          version: "0.0.0",
          type: "module",
          bin: { ipckit: "cli/bin.mjs" },
        }),
      );
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ name: "consumer", private: true }),
      );
      const npm = async (cwd: string, args: string[], env = {}) =>
        await finished(
          startPeer("exec", "npm", [
            "--offline",
            "--cache",
            join(dir, "npm-cache"),
            ...args,
          ], { wrap: ["env", `--chdir=${cwd}`], env }),
          120_000,
        );
      const packed = await npm(pkg, ["pack", "--silent"]);
      assert.equal(packed.code, 0, packed.stderr);
      const tarball = join(pkg, packed.stdout.trim().split("\n").at(-1)!);
      const installed = await npm(project, [
        "install",
        "--no-audit",
        "--no-fund",
        tarball,
      ]);
      assert.equal(installed.code, 0, installed.stderr);

      const deno = `${ROOT}node_modules/deno/deno`;
      const bun = `${ROOT}node_modules/bun/bin/bun.exe`;
      const npx = await finished(
        startPeer("exec", "npx", [
          "--offline",
          "--cache",
          join(dir, "npm-cache"),
          "ipckit",
          "ls",
          "--json",
          "--kind",
          "sysv",
        ], {
          wrap: ["env", `--chdir=${project}`],
          env: { IPCKIT_RUNTIME: deno },
        }),
        120_000,
      );
      assert.equal(npx.code, 0, npx.stderr);
      assert.ok(Array.isArray((JSON.parse(npx.stdout) as Listing).objects));
      const npxBad = await npm(
        project,
        ["exec", "--", "ipckit", "frobnicate"],
        {
          IPCKIT_RUNTIME: deno,
        },
      );
      assert.equal(npxBad.code, 2, npxBad.stderr);
      assert.match(npxBad.stderr, /unknown command "frobnicate"/);

      // bunx runs a Node bin with Node; the bin finds bunx's own Bun.
      for (const flags of [[], ["--bun"]]) {
        const bunx = await finished(
          startPeer(
            "exec",
            bun,
            ["x", ...flags, "ipckit", "doctor", "--json"],
            {
              wrap: ["env", `--chdir=${project}`],
            },
          ),
          120_000,
        );
        assert.equal(bunx.code, 0, `bun x ${flags.join(" ")}: ${bunx.stderr}`);
        const { checks } = JSON.parse(bunx.stdout) as {
          checks: { name: string }[];
        };
        assert.ok(checks.some((c) => c.name === "RLIMIT_MSGQUEUE"));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
