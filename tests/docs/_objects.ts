// What IPC objects exist on the machine, to tell what a program left
// behind: POSIX shared memory and named semaphores (/dev/shm), POSIX
// message queues (through an mqueue mount, when there is one) and System V
// objects (/proc/sysvipc). Other jobs run beside the suite, so a program is
// blamed only for new objects it names in its source, or System V objects
// one of its processes created.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

/** One object: where it lives and how to remove it. */
export interface IpcObject {
  /** `shm ipckit_demo`, `mqueue ipckit_jobs`, `sysv sem 3`, ... */
  readonly what: string;
  /** The name a program would use (`/ipckit_demo`), if it has one. */
  readonly name: string | undefined;
  /** Processes /proc/sysvipc says created or last used it. */
  readonly pids: readonly number[];
  remove(): void;
}

function mqueueDir(): string | undefined {
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n");
  return mounts.map((l) => l.split(" ")).find((f) => f[2] === "mqueue")?.[1];
}

function sysv(kind: "msg" | "shm" | "sem"): IpcObject[] {
  let text: string;
  try {
    text = readFileSync(`/proc/sysvipc/${kind}`, "utf8");
  } catch {
    return [];
  }
  const [header = "", ...rows] = text.trim().split("\n");
  const columns = header.trim().split(/\s+/);
  const pidColumns =
    { msg: ["lspid", "lrpid"], shm: ["cpid", "lpid"], sem: [] }[kind];
  return rows.map((row) => row.trim().split(/\s+/)).map((cells) => {
    const id = cells[1] ?? "?"; // msqid, shmid, semid
    return {
      what: `sysv ${kind} ${id}`,
      name: undefined,
      pids: pidColumns.map((c) => Number(cells[columns.indexOf(c)])),
      remove: () => {
        spawnSync("ipcrm", [{ msg: "-q", shm: "-m", sem: "-s" }[kind], id]);
      },
    };
  });
}

/** Every object there is now, by `what`. */
export function snapshot(): Map<string, IpcObject> {
  const all: IpcObject[] = [];
  const named = (dir: string | undefined, label: string) => {
    if (dir === undefined || !existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      all.push({
        what: `${label} ${entry}`,
        name: `/${entry.replace(/^sem\./, "")}`,
        pids: [],
        remove: () => rmSync(join(dir, entry), { force: true }),
      });
    }
  };
  named("/dev/shm", "shm");
  named(mqueueDir(), "mqueue");
  all.push(...sysv("msg"), ...sysv("shm"), ...sysv("sem"));
  return new Map(all.map((o) => [o.what, o]));
}

/**
 * The objects in `after` but not in `before` that a program with `source`
 * and process ids `pids` made: those named in its source (`"/ipckit_demo"`)
 * and System V objects one of its processes touched.
 */
export function leftBehind(
  before: Map<string, IpcObject>,
  after: Map<string, IpcObject>,
  source: string,
  pids: readonly number[],
): IpcObject[] {
  return [...after.values()].filter((o) =>
    !before.has(o.what) &&
    ((o.name !== undefined && new RegExp(`["'\`]${escape(o.name)}["'\`]`)
      .test(source)) ||
      o.pids.some((p) => pids.includes(p)))
  );
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
