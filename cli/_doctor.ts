// `ipckit doctor`: the system limits that bite ipckit's users, each with
// what it means and what to change.
import {
  futexWaitMethod,
  IpcError,
  readKernelFile,
  readKernelNumber,
} from "../ffi/mod.ts";
import {
  fileSystemSpace,
  glibcVersion,
  type MqueueDirectory,
  readDirectory,
} from "./_system.ts";
import { sysvTable } from "./_objects.ts";

/** How a limit stands. */
export type DoctorStatus = "ok" | "low" | "warn" | "info";

/** One limit, its value and what to do about it. */
export interface DoctorCheck {
  /** The limit, as sysctl or the kernel names it. */
  readonly name: string;
  /** Its value, in words (`10`, `8192 B`, `6.18.44`). */
  readonly value: string;
  /** The raw number, where it is one. */
  readonly number: number | undefined;
  readonly status: DoctorStatus;
  /** What it means and what to change. */
  readonly advice: string;
}

/** `1.5 MiB`, `8192 B`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "unlimited";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${units[unit]}`;
}

function sysctl(
  file: string,
  name: string,
  judge: (n: number) => { status: DoctorStatus; advice: string },
  unit = "",
): DoctorCheck {
  const text = readKernelFile(file, 64)?.trim();
  const n = text === undefined || !/^\d+$/.test(text)
    ? undefined
    : Number(text);
  if (n === undefined) {
    return {
      name,
      value: "unknown",
      number: undefined,
      status: "info",
      advice: `Cannot read ${file}`,
    };
  }
  return {
    name,
    value: unit === "B" ? `${text} B` : String(text),
    number: n,
    ...judge(n),
  };
}

/** Compares dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10));
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) return 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/** The soft and hard limit of one line of /proc/self/limits. */
function processLimit(
  title: string,
): { soft: number; hard: number } | undefined {
  const text = readKernelFile("/proc/self/limits") ?? "";
  const line = text.split("\n").find((l) => l.startsWith(title));
  if (line === undefined) return undefined;
  const [soft, hard] = line.slice(title.length).trim().split(/\s+/);
  const value = (x: string | undefined) =>
    x === "unlimited" ? Infinity : Number(x);
  return { soft: value(soft), hard: value(hard) };
}

/** Every check, in the order they are shown. */
export function doctorChecks(mqueue: MqueueDirectory): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const persist = "(persist it in /etc/sysctl.d/)";

  // --- POSIX message queues ------------------------------------------------
  const msgMax = readKernelNumber("/proc/sys/fs/mqueue/msg_max");
  const msgsizeMax = readKernelNumber("/proc/sys/fs/mqueue/msgsize_max");
  checks.push(
    sysctl("/proc/sys/fs/mqueue/msg_max", "fs.mqueue.msg_max", (n) =>
      n < 64
        ? {
          status: "low",
          advice:
            `A queue holds at most ${n} messages unless made by root: a maxMessages above it fails EINVAL. Raise it with sysctl -w fs.mqueue.msg_max=1024 ${persist}`,
        }
        : {
          status: "ok",
          advice: `Queues may hold up to ${n} messages`,
        }),
  );
  checks.push(sysctl(
    "/proc/sys/fs/mqueue/msgsize_max",
    "fs.mqueue.msgsize_max",
    (n) =>
      n < 65536
        ? {
          status: "low",
          advice: `Messages are at most ${
            formatBytes(n)
          } unless the queue is made by root. Raise it with sysctl -w fs.mqueue.msgsize_max=1048576 ${persist}`,
        }
        : { status: "ok", advice: `Messages may be up to ${formatBytes(n)}` },
    "B",
  ));
  let queuesInUse: number | undefined;
  if (mqueue.path !== undefined) {
    try {
      queuesInUse = readDirectory(mqueue.path).length;
    } catch (e) {
      if (!(e instanceof IpcError)) throw e;
    }
  }
  checks.push(sysctl(
    "/proc/sys/fs/mqueue/queues_max",
    "fs.mqueue.queues_max",
    (n) => {
      const used = queuesInUse === undefined
        ? "(queues in use: unknown, no mqueue mount)"
        : `(${queuesInUse} in use)`;
      const full = queuesInUse !== undefined && queuesInUse >= 0.8 * n;
      return {
        status: full ? "warn" : "ok",
        advice: `At most ${n} queues in this IPC namespace ${used}` +
          (full
            ? `: creating more fails ENOSPC. Raise it with sysctl -w fs.mqueue.queues_max=${
              n * 4
            } ${persist}, or remove unused ones (ipckit rm)`
            : ""),
      };
    },
  ));
  const msgqueue = processLimit("Max msgqueue size");
  if (msgqueue === undefined) {
    checks.push({
      name: "RLIMIT_MSGQUEUE",
      value: "unknown",
      number: undefined,
      status: "info",
      advice: "Cannot read /proc/self/limits",
    });
  } else {
    // A queue charges maxmsg * msgsize plus a pointer per message.
    const perQueue = msgMax !== undefined && msgsizeMax !== undefined
      ? msgMax * (msgsizeMax + 8)
      : undefined;
    const fit = perQueue === undefined ? undefined : msgqueue.soft / perQueue;
    checks.push({
      name: "RLIMIT_MSGQUEUE",
      value: `${formatBytes(msgqueue.soft)} (hard ${
        formatBytes(msgqueue.hard)
      })`,
      number: msgqueue.soft,
      status: fit !== undefined && fit < 16 ? "low" : "ok",
      advice: (perQueue === undefined || fit === undefined
        ? ""
        : `A queue at the largest size (${msgMax} x ${
          formatBytes(msgsizeMax ?? 0)
        }) charges ${formatBytes(perQueue)}: ${
          Number.isFinite(fit) ? Math.floor(fit) : "any number"
        } fit in this user's limit; beyond it mq_open fails EMFILE. `) +
        "Raise it with ulimit -q (LimitMSGQUEUE= for a systemd service, msgqueue in /etc/security/limits.conf for the hard limit)",
    });
  }

  // --- Shared memory and pipes --------------------------------------------
  try {
    const { total, free } = fileSystemSpace("/dev/shm");
    const tight = total > 0 && (free < 64 * 1024 * 1024 || free < total / 10);
    checks.push({
      name: "/dev/shm free",
      value: `${formatBytes(free)} of ${formatBytes(total)}`,
      number: free,
      status: tight ? "warn" : "ok",
      advice: (tight
        ? "Little room: shared memory and semaphores fail ENOSPC or SIGBUS beyond it. "
        : "POSIX shared memory and named semaphores live here. ") +
        "Grow it with mount -o remount,size=2G /dev/shm (docker run --shm-size=2g in a container); find leftovers with ipckit ls",
    });
  } catch (e) {
    if (!(e instanceof IpcError)) throw e;
    checks.push({
      name: "/dev/shm free",
      value: "unknown",
      number: undefined,
      status: "warn",
      advice: `${
        (e as Error).message
      }: POSIX shared memory needs a tmpfs at /dev/shm`,
    });
  }
  checks.push(sysctl(
    "/proc/sys/fs/pipe-max-size",
    "fs.pipe-max-size",
    (n) => ({
      status: "info",
      advice: `An unprivileged process may grow a pipe to ${
        formatBytes(n)
      } (F_SETPIPE_SZ; 1 MiB makes bulk transfers faster). Raise it with sysctl -w fs.pipe-max-size=${
        Math.max(n * 4, 4194304)
      } ${persist}`,
    }),
    "B",
  ));

  // --- System V -----------------------------------------------------------
  checks.push(sysctl("/proc/sys/kernel/msgmnb", "kernel.msgmnb", (n) => ({
    status: n < 65536 ? "low" : "ok",
    advice: `A System V queue holds at most ${
      formatBytes(n)
    }; a send beyond waits or fails EAGAIN. Raise it with sysctl -w kernel.msgmnb=1048576 ${persist}`,
  }), "B"));
  checks.push(sysctl("/proc/sys/kernel/msgmax", "kernel.msgmax", (n) => ({
    status: n < 65536 ? "low" : "ok",
    advice: `A System V message is at most ${
      formatBytes(n)
    } (EINVAL beyond). Raise it with sysctl -w kernel.msgmax=65536 ${persist}`,
  }), "B"));
  {
    const text = readKernelFile("/proc/sys/kernel/sem")?.trim();
    const [msl, mns, opm, mni] = (text ?? "").split(/\s+/).map(Number);
    const sets = sysvTable("sem")?.length;
    const full = sets !== undefined && mni !== undefined && sets >= 0.8 * mni;
    checks.push({
      name: "kernel.sem",
      value: text === undefined ? "unknown" : text.replace(/\s+/g, " "),
      number: undefined,
      status: text === undefined ? "info" : full ? "warn" : "ok",
      advice: text === undefined
        ? "Cannot read /proc/sys/kernel/sem"
        : `SEMMSL ${msl} per set, SEMMNS ${mns} in all, SEMOPM ${opm} per semop, SEMMNI ${mni} sets (${
          sets ?? "?"
        } in use). Raise with sysctl -w kernel.sem="${msl} ${mns} ${opm} ${
          (mni ?? 0) * 4
        }" ${persist}`,
    });
  }
  checks.push(
    sysctl(
      "/proc/sys/kernel/shmmax",
      "kernel.shmmax",
      (n) =>
        n > Number.MAX_SAFE_INTEGER
          ? {
            status: "ok",
            advice:
              "No practical limit on a System V segment's size (kernel.shmall, in pages, still caps the total)",
          }
          : {
            status: n < 256 * 1024 * 1024 ? "low" : "ok",
            advice: `A System V segment is at most ${
              formatBytes(n)
            } (EINVAL beyond). Raise it with sysctl -w kernel.shmmax=<bytes> ${persist}`,
          },
      "B",
    ),
  );

  // --- Kernel and C library -----------------------------------------------
  const release = readKernelFile("/proc/sys/kernel/osrelease")?.trim();
  let method: string;
  try {
    method = futexWaitMethod();
  } catch (e) {
    if (!(e instanceof IpcError)) throw e;
    method = `refused (${e.code})`;
  }
  const newEnough = release !== undefined &&
    compareVersions(release, "5.16") >= 0;
  checks.push({
    name: "kernel",
    value: release ?? "unknown",
    number: undefined,
    status: method === "waitv" ? "ok" : "warn",
    advice: method === "waitv"
      ? "futex_waitv (5.16+) is there: async semaphore, mutex and ring waits sleep in the kernel"
      : method === "poll"
      ? (newEnough
        ? "Async futex waits poll (IPCKIT_FUTEX_WAIT=poll is set, or futex_waitv is missing)"
        : "Linux before 5.16 has no futex_waitv: async semaphore, mutex and ring waits poll every 0.05-2 ms. Upgrade the kernel to 5.16+ for event-driven waits")
      : `futex_waitv is ${method} (a seccomp profile?): async futex waits fail. Allow futex_waitv (syscall 449) in the profile`,
  });
  const glibc = glibcVersion();
  checks.push({
    name: "glibc",
    value: glibc ?? "not glibc",
    number: undefined,
    status: glibc === undefined
      ? "warn"
      : compareVersions(glibc, "2.30") < 0
      ? "warn"
      : "ok",
    advice: glibc === undefined
      ? "ipckit is tested with glibc; another C library may lack what it binds"
      : compareVersions(glibc, "2.30") < 0
      ? "Before 2.30: no sem_clockwait and no getdents64 (ipckit ls cannot list). Upgrade to 2.30+"
      : compareVersions(glibc, "2.34") < 0
      ? "mq_* and shm_* come from librt.so.1, sem_* from libpthread.so.0 (found there)"
      : "mq_*, shm_* and sem_* all in libc.so.6",
  });
  return checks;
}
