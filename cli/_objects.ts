// The IPC objects the ipckit command lists and removes: POSIX shared memory
// and named semaphores (files in /dev/shm), POSIX message queues (files in
// an mqueue mount) and System V objects (/proc/sysvipc).
import {
  cString,
  errno,
  IpcError,
  libc,
  readKernelFile,
  validatePosixName,
} from "../ffi/mod.ts";
import {
  DT_REG,
  isPermissionError,
  type MqueueDirectory,
  readDirectory,
  readFileStart,
  statFile,
  userName,
} from "./_system.ts";

/** The kinds of object, as the command names them. */
export const KINDS = [
  "shm",
  "sem",
  "mq",
  "sysv-msg",
  "sysv-sem",
  "sysv-shm",
] as const;

/** One kind of object. */
export type ObjectKind = typeof KINDS[number];

/** What a kind is, in words. */
export const KIND_TITLES: Record<ObjectKind, string> = {
  shm: "POSIX shared memory",
  sem: "POSIX named semaphore",
  mq: "POSIX message queue",
  "sysv-msg": "System V message queue",
  "sysv-sem": "System V semaphore set",
  "sysv-shm": "System V shared memory",
};

/** One listed object. */
export interface IpcObjectInfo {
  readonly kind: ObjectKind;
  /** `/name` for POSIX objects; the key (`0x0001e240`) or `private` for System V. */
  readonly name: string;
  /** The System V id. */
  readonly id: number | undefined;
  /** The System V key. */
  readonly key: number | undefined;
  /** Bytes held (queued bytes for a queue), `undefined` where it means nothing or cannot be read. */
  readonly size: number | undefined;
  /** Permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly owner: string;
  /** When it was made (or last changed, where the system keeps no birth time), in seconds since the epoch. */
  readonly created: number;
  /** Last change of its contents, where known. */
  readonly modified: number | undefined;
  /** Kind-specific facts: a semaphore's value, messages queued, processes attached. */
  readonly detail: string;
  /** The file that stands for it, for POSIX objects. */
  readonly path: string | undefined;
}

/** What `listObjects()` found, and what it could not look at. */
export interface Listing {
  readonly objects: IpcObjectInfo[];
  readonly notes: string[];
}

/** The `kind:name` or `kind:id` that names one object on the command line. */
export function objectRef(o: IpcObjectInfo): string {
  return o.kind.startsWith("sysv-")
    ? `${o.kind}:${o.id}`
    : `${o.kind}:${o.name}`;
}

function fileObject(
  kind: ObjectKind,
  name: string,
  path: string,
  size: (p: string, bytes: number) => number | undefined,
  detail: (p: string) => string,
): IpcObjectInfo | undefined {
  let info;
  try {
    info = statFile(path);
  } catch (e) {
    if (e instanceof IpcError && e.code === "ENOENT") return undefined; // gone
    throw e;
  }
  if (info.type !== 0o100000) return undefined; // not a regular file
  return {
    kind,
    name,
    id: undefined,
    key: undefined,
    size: size(path, info.size),
    mode: info.mode,
    uid: info.uid,
    owner: userName(info.uid),
    created: info.btime ?? info.ctime,
    modified: info.mtime,
    detail: detail(path),
    path,
  };
}

function semaphoreValue(path: string): string {
  // glibc's sem_t on 64-bit machines: a 64-bit word, the value in its low
  // 32 bits and the number of waiters in the high 32.
  const bytes = readFileStart(path, 8);
  if (bytes === undefined || bytes.length < 8) return "";
  const data = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const value = data.getUint32(0, true);
  const waiters = data.getUint32(4, true);
  return `value ${value}` + (waiters > 0 ? `, ${waiters} waiting` : "");
}

function queuedBytes(path: string): number | undefined {
  // An mqueue file reads "QSIZE:129 NOTIFY:0 SIGNO:0 NOTIFY_PID:0".
  const text = readKernelFile(path, 256);
  const m = text === undefined ? null : /QSIZE:(\d+)/.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** A queue's attributes through mq_getattr, or "" when it cannot be opened. */
function queueDetail(name: string): string {
  const O_RDONLY = 0;
  const O_NONBLOCK = 0o4000;
  const mqd = libc().mq_open(cString(name), O_RDONLY | O_NONBLOCK, 0, null);
  if (mqd < 0) return "";
  try {
    const attr = new BigInt64Array(8);
    if (libc().mq_getattr(mqd, attr) !== 0) return "";
    const [maxmsg, msgsize, curmsgs] = [attr[1], attr[2], attr[3]];
    return `${curmsgs}/${maxmsg} messages of up to ${msgsize} B`;
  } finally {
    libc().mq_close(mqd);
  }
}

/** Whether a message queue of this name exists (mq_open, for when none can be listed). */
export function queueExists(name: string): boolean {
  const mqd = libc().mq_open(cString(name), 0o4000, 0, null);
  if (mqd >= 0) {
    libc().mq_close(mqd);
    return true;
  }
  return errno() !== 2; // ENOENT; EACCES and the like: it is there
}

function posixObjects(mqueue: MqueueDirectory | undefined): Listing {
  const objects: IpcObjectInfo[] = [];
  const notes: string[] = [];
  try {
    for (const entry of readDirectory("/dev/shm")) {
      if (entry.type !== DT_REG && entry.type !== 0) continue;
      const path = `/dev/shm/${entry.name}`;
      const o = entry.name.startsWith("sem.")
        ? fileObject(
          "sem",
          `/${entry.name.slice(4)}`,
          path,
          () => undefined,
          semaphoreValue,
        )
        : fileObject("shm", `/${entry.name}`, path, (_, n) => n, () => "");
      if (o !== undefined) objects.push(o);
    }
  } catch (e) {
    if (isPermissionError(e)) throw e;
    notes.push(`Cannot list /dev/shm: ${(e as Error).message}`);
  }
  if (mqueue === undefined) {
    // message queues not asked for
  } else if (mqueue.path === undefined) {
    notes.push(`Cannot list message queues: ${mqueue.note}`);
  } else {
    try {
      for (const entry of readDirectory(mqueue.path)) {
        const name = `/${entry.name}`;
        const o = fileObject(
          "mq",
          name,
          `${mqueue.path}/${entry.name}`,
          (p) => queuedBytes(p),
          () => queueDetail(name),
        );
        if (o !== undefined) objects.push({ ...o, path: undefined });
      }
    } catch (e) {
      if (isPermissionError(e)) throw e;
      notes.push(`Cannot list message queues: ${(e as Error).message}`);
    }
  }
  return { objects, notes };
}

/** Parses a /proc/sysvipc table into rows keyed by its header's columns. */
export function sysvTable(
  kind: "msg" | "sem" | "shm",
): Record<string, string>[] | undefined {
  const text = readKernelFile(`/proc/sysvipc/${kind}`, 1 << 24);
  if (text === undefined) return undefined;
  const [header, ...rows] = text.trim().split("\n");
  const columns = (header ?? "").trim().split(/\s+/);
  return rows.filter((r) => r.trim() !== "").map((row) => {
    const cells = row.trim().split(/\s+/);
    const record: Record<string, string> = {};
    columns.forEach((c, i) => record[c] = cells[i] ?? "");
    return record;
  });
}

/** `0x0001e240`, or `private` for IPC_PRIVATE. */
export function keyName(key: number): string {
  return key === 0
    ? "private"
    : `0x${(key >>> 0).toString(16).padStart(8, "0")}`;
}

function sysvObjects(): Listing {
  const objects: IpcObjectInfo[] = [];
  const notes: string[] = [];
  const kinds = [
    ["msg", "sysv-msg", "msqid"],
    ["sem", "sysv-sem", "semid"],
    ["shm", "sysv-shm", "shmid"],
  ] as const;
  for (const [file, kind, idColumn] of kinds) {
    const rows = sysvTable(file);
    if (rows === undefined) {
      notes.push(`Cannot read /proc/sysvipc/${file}`);
      continue;
    }
    for (const r of rows) {
      const n = (column: string) => Number(r[column] ?? NaN);
      const key = n("key") >>> 0;
      const uid = n("uid");
      const size = kind === "sysv-msg"
        ? n("cbytes")
        : kind === "sysv-shm"
        ? n("size")
        : undefined;
      const count = (n: string | undefined, what: string) =>
        `${n} ${what}${n === "1" ? "" : "s"}`;
      const detail = kind === "sysv-msg"
        ? count(r.qnum, "message")
        : kind === "sysv-sem"
        ? count(r.nsems, "semaphore")
        : `${r.nattch} attached`;
      const modified = kind === "sysv-msg"
        ? Math.max(n("stime"), n("rtime"))
        : kind === "sysv-sem"
        ? n("otime")
        : Math.max(n("atime"), n("dtime"));
      objects.push({
        kind,
        name: keyName(key),
        id: n(idColumn),
        key,
        size,
        mode: parseInt(r.perms ?? "0", 8) & 0o777,
        uid,
        owner: userName(uid),
        created: n("ctime"),
        modified: modified > 0 ? modified : undefined,
        detail,
        path: undefined,
      });
    }
  }
  return { objects, notes };
}

/** Every object of the given kinds this process can see. */
export function listObjects(
  kinds: readonly ObjectKind[],
  mqueue: MqueueDirectory,
): Listing {
  const wanted = new Set(kinds);
  const parts = [
    ...(["shm", "sem", "mq"].some((k) => wanted.has(k as ObjectKind))
      ? [posixObjects(wanted.has("mq") ? mqueue : undefined)]
      : []),
    ...(kinds.some((k) => k.startsWith("sysv-")) ? [sysvObjects()] : []),
  ];
  return {
    objects: parts.flatMap((p) => p.objects).filter((o) => wanted.has(o.kind)),
    notes: parts.flatMap((p) => p.notes),
  };
}

/** Whether an object's name starts with `prefix` (`/` optional; `0x` for System V keys). */
export function matchesPrefix(o: IpcObjectInfo, prefix: string): boolean {
  if (o.kind.startsWith("sysv-")) {
    return /^0x/i.test(prefix) && o.name.startsWith(prefix.toLowerCase());
  }
  return o.name.slice(1).startsWith(prefix.replace(/^\//, ""));
}

/** One object named on the command line: `[kind:]/name`, `[sysv-kind:]0xKEY` or `sysv-kind:ID`. */
export interface ObjectSelector {
  readonly text: string;
  readonly kind: ObjectKind | undefined;
  readonly name: string | undefined;
  readonly key: number | undefined;
  readonly id: number | undefined;
}

/** Parses a name given on the command line; throws a `TypeError` with the reason. */
export function parseSelector(text: string): ObjectSelector {
  let kind: ObjectKind | undefined;
  let rest = text;
  const colon = text.indexOf(":");
  if (colon > 0) {
    const k = text.slice(0, colon);
    if (!(KINDS as readonly string[]).includes(k)) {
      throw new TypeError(
        `"${text}": unknown kind "${k}" (kinds: ${KINDS.join(", ")})`,
      );
    }
    kind = k as ObjectKind;
    rest = text.slice(colon + 1);
  }
  const sysv = kind?.startsWith("sysv-") ?? false;
  if (/^0x[0-9a-f]{1,8}$/i.test(rest) && (kind === undefined || sysv)) {
    const key = parseInt(rest, 16);
    if (key === 0) {
      throw new TypeError(`"${text}": key 0 is IPC_PRIVATE; name it by id`);
    }
    return { text, kind, name: undefined, key, id: undefined };
  }
  if (sysv) {
    if (!/^\d+$/.test(rest)) {
      throw new TypeError(
        `"${text}": a System V object is named by id or 0xKEY`,
      );
    }
    return { text, kind, name: undefined, key: undefined, id: Number(rest) };
  }
  const name = rest.startsWith("/") ? rest : `/${rest}`;
  validatePosixName(name, "object");
  return { text, kind, name, key: undefined, id: undefined };
}

/** Whether a selector names this object. */
export function selects(s: ObjectSelector, o: IpcObjectInfo): boolean {
  if (s.kind !== undefined && s.kind !== o.kind) return false;
  if (s.name !== undefined) {
    return !o.kind.startsWith("sysv-") && o.name === s.name;
  }
  if (s.key !== undefined) return o.key === s.key && o.kind.startsWith("sysv-");
  return o.id === s.id;
}

/** Removes one object; throws `IpcError` when the system refuses. */
export function removeObject(o: IpcObjectInfo): void {
  const IPC_RMID = 0;
  const what = KIND_TITLES[o.kind];
  const call = (f: () => number, syscall: string, path: string) => {
    if (f() === -1) {
      throw new IpcError(errno(), { syscall, path, action: `remove ${what}` });
    }
  };
  const name = () => cString(o.name);
  const id = o.id ?? -1;
  switch (o.kind) {
    case "shm":
      return call(() => libc().shm_unlink(name()), "shm_unlink", o.name);
    case "sem":
      return call(() => libc().sem_unlink(name()), "sem_unlink", o.name);
    case "mq":
      return call(() => libc().mq_unlink(name()), "mq_unlink", o.name);
    case "sysv-msg":
      return call(
        () => libc().msgctl(id, IPC_RMID, null),
        "msgctl",
        `id ${id}`,
      );
    case "sysv-sem":
      return call(
        () => libc().semctl(id, 0, IPC_RMID, 0),
        "semctl",
        `id ${id}`,
      );
    case "sysv-shm":
      return call(
        () => libc().shmctl(id, IPC_RMID, null),
        "shmctl",
        `id ${id}`,
      );
  }
}
