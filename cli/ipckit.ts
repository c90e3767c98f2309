#!/usr/bin/env -S deno run --allow-ffi
/**
 * The `ipckit` command: lists and removes POSIX and System V IPC objects, and
 * shows the system limits that bite.
 *
 * ```sh
 * deno run --allow-ffi cli/ipckit.ts ls      # or: deno task ipckit ls
 * bun cli/ipckit.ts doctor --json
 * ```
 *
 * Deno needs `--allow-ffi` only: everything goes through libc.
 *
 * @module
 */
import process from "node:process";
import { IpcError } from "../ffi/mod.ts";
import {
  type IpcObjectInfo,
  KIND_TITLES,
  KINDS,
  listObjects,
  matchesPrefix,
  type ObjectKind,
  objectRef,
  type ObjectSelector,
  parseSelector,
  queueExists,
  removeObject,
  selects,
} from "./_objects.ts";
import { doctorChecks } from "./_doctor.ts";
import { objectJson, objectTable, table } from "./_format.ts";
import {
  isPermissionError,
  type MqueueDirectory,
  mqueueDirectory,
} from "./_system.ts";

/** The usage text (printed by `--help`, and on stderr after a bad argument). */
export const USAGE: string = `Usage: ipckit <command> [options]

Commands:
  ls [PREFIX]        List POSIX shared memory, named semaphores and message
                     queues, and System V objects: size, mode, owner, age
  rm NAME...         Remove the named objects
  rm --prefix P      Remove the objects whose names start with P
  rm --all           Remove every object (of --kind, if given)
  doctor             Show the limits that bite, and what to change
  help               Show this text

Names: /jobs (any POSIX kind), mq:/jobs (one kind), 0x0001e240 (a System V
key), sysv-shm:32769 (a System V id). "ipckit ls" prints each one's REF in
--json output.

Options:
  --json             Print JSON
  --kind K[,K...]    Only these kinds: ${KINDS.join(", ")};
                     also posix, sysv
  --prefix P         (ls, rm) Names starting with P (0x... for System V keys)
  --all              (rm) Everything, with no name or prefix
  -n, --dry-run      (rm) Say what would be removed; remove nothing
  -h, --help         Show this text

Exit status: 0 done, 1 something failed, 2 bad arguments.
Deno: deno run --allow-ffi cli/ipckit.ts (no other permission).`;

/** A bad command line: usage and exit status 2. */
class UsageError extends Error {}

interface Options {
  command: "ls" | "rm" | "doctor" | "help";
  json: boolean;
  kinds: ObjectKind[];
  prefix: string | undefined;
  all: boolean;
  dryRun: boolean;
  names: string[];
}

function parseKinds(text: string): ObjectKind[] {
  const kinds = new Set<ObjectKind>();
  for (const k of text.split(",")) {
    if (k === "posix") {
      for (const x of ["shm", "sem", "mq"] as const) kinds.add(x);
    } else if (k === "sysv") {
      for (const x of ["sysv-msg", "sysv-sem", "sysv-shm"] as const) {
        kinds.add(x);
      }
    } else if ((KINDS as readonly string[]).includes(k)) {
      kinds.add(k as ObjectKind);
    } else {
      throw new UsageError(
        `unknown kind "${k}" (kinds: ${KINDS.join(", ")}, posix, sysv)`,
      );
    }
  }
  return KINDS.filter((k) => kinds.has(k));
}

/** Parses the command line (without the runtime and script). */
export function parseArguments(args: readonly string[]): Options {
  const options: Options = {
    command: "help",
    json: false,
    kinds: [...KINDS],
    prefix: undefined,
    all: false,
    dryRun: false,
    names: [],
  };
  let command: string | undefined;
  const seen = new Set<string>();
  const rest = [...args];
  let endOfOptions = false;
  while (rest.length > 0) {
    const arg = rest.shift() as string;
    if (!endOfOptions && arg === "--") {
      endOfOptions = true;
      continue;
    }
    if (!endOfOptions && arg.startsWith("-") && arg !== "-") {
      const eq = arg.indexOf("=");
      const flag = eq === -1 ? arg : arg.slice(0, eq);
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      const value = () => {
        const v = inline ?? rest.shift();
        if (v === undefined || v === "") {
          throw new UsageError(`${flag} needs a value`);
        }
        return v;
      };
      const noValue = () => {
        if (inline !== undefined) {
          throw new UsageError(`${flag} takes no value`);
        }
      };
      if (seen.has(flag)) throw new UsageError(`${flag} given twice`);
      seen.add(flag);
      switch (flag) {
        case "-h":
        case "--help":
          noValue();
          return { ...options, command: "help" };
        case "--json":
          noValue();
          options.json = true;
          break;
        case "--kind":
          options.kinds = parseKinds(value());
          break;
        case "--prefix":
          options.prefix = value();
          break;
        case "--all":
          noValue();
          options.all = true;
          break;
        case "-n":
        case "--dry-run":
          noValue();
          options.dryRun = true;
          break;
        default:
          throw new UsageError(`unknown option ${flag}`);
      }
      continue;
    }
    if (command === undefined) command = arg;
    else options.names.push(arg);
  }
  if (command === undefined) throw new UsageError("no command given");
  if (!["ls", "rm", "doctor", "help"].includes(command)) {
    throw new UsageError(`unknown command "${command}"`);
  }
  options.command = command as Options["command"];
  const only = (flag: string, commands: string[]) => {
    if (seen.has(flag) && !commands.includes(command as string)) {
      throw new UsageError(`${flag} is not an option of ${command}`);
    }
  };
  only("--kind", ["ls", "rm"]);
  only("--prefix", ["ls", "rm"]);
  only("--all", ["rm"]);
  only("-n", ["rm"]);
  only("--dry-run", ["rm"]);
  if (command === "ls") {
    if (options.names.length > 1) {
      throw new UsageError("ls takes at most one PREFIX");
    }
    const [positional] = options.names;
    if (positional !== undefined) {
      if (options.prefix !== undefined) {
        throw new UsageError("give the prefix once (PREFIX or --prefix)");
      }
      options.prefix = positional;
      options.names = [];
    }
  } else if (command === "rm") {
    if (
      options.names.length === 0 && options.prefix === undefined &&
      !options.all
    ) {
      throw new UsageError(
        "rm needs names, --prefix P, or --all (it never removes everything unasked)",
      );
    }
    if (
      options.all && (options.names.length > 0 || options.prefix !== undefined)
    ) {
      throw new UsageError("--all takes no names and no --prefix");
    }
  } else if (options.names.length > 0) {
    throw new UsageError(`${command} takes no arguments`);
  }
  if (options.prefix === "" || options.prefix === "/") {
    throw new UsageError("an empty prefix would match everything: use --all");
  }
  return options;
}

function print(text: string): void {
  console.log(text);
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

function withQueues<T>(
  kinds: readonly ObjectKind[],
  body: (mqueue: MqueueDirectory) => T,
): T {
  const mqueue: MqueueDirectory = kinds.includes("mq")
    ? mqueueDirectory()
    : { path: undefined, note: "not asked for", release() {} };
  try {
    return body(mqueue);
  } finally {
    mqueue.release();
  }
}

function ls(options: Options): number {
  return withQueues(options.kinds, (mqueue) => {
    const listing = listObjects(options.kinds, mqueue);
    const prefix = options.prefix;
    const objects = prefix === undefined
      ? listing.objects
      : listing.objects.filter((o) => matchesPrefix(o, prefix));
    const now = Date.now() / 1000;
    if (options.json) {
      printJson({
        objects: objects.map((o) => objectJson(o, now)),
        notes: listing.notes,
      });
    } else {
      print(
        objects.length === 0
          ? "No IPC objects found."
          : objectTable(objects, now),
      );
      for (const note of listing.notes) console.error(`note: ${note}`);
    }
    return 0;
  });
}

function rm(options: Options): number {
  let selectors: ObjectSelector[];
  try {
    selectors = options.names.map(parseSelector);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return withQueues(options.kinds, (mqueue) => {
    const listing = listObjects(options.kinds, mqueue);
    const chosen = new Map<string, IpcObjectInfo>();
    const missing: string[] = [];
    for (const s of selectors) {
      let found = listing.objects.filter((o) => selects(s, o));
      if (
        found.length === 0 && mqueue.path === undefined &&
        options.kinds.includes("mq") && s.name !== undefined &&
        (s.kind === undefined || s.kind === "mq") && queueExists(s.name)
      ) {
        // No mqueue mount to list: mq_open tells whether it is there.
        found = [{
          kind: "mq",
          name: s.name,
          id: undefined,
          key: undefined,
          size: undefined,
          mode: 0,
          uid: -1,
          owner: "?",
          created: NaN,
          modified: undefined,
          detail: "",
          path: undefined,
        }];
      }
      if (found.length === 0) missing.push(s.text);
      for (const o of found) chosen.set(objectRef(o), o);
    }
    const prefix = options.prefix;
    for (const o of listing.objects) {
      if (options.all || (prefix !== undefined && matchesPrefix(o, prefix))) {
        chosen.set(objectRef(o), o);
      }
    }
    const removed: IpcObjectInfo[] = [];
    const failed: { object: IpcObjectInfo; error: Error }[] = [];
    for (const o of chosen.values()) {
      if (options.dryRun) {
        removed.push(o);
        continue;
      }
      try {
        removeObject(o);
        removed.push(o);
      } catch (e) {
        if (!(e instanceof IpcError)) throw e;
        // Gone in the meantime: what was asked for is done.
        if (e.code === "ENOENT" || e.code === "EINVAL" || e.code === "EIDRM") {
          removed.push(o);
        } else {
          failed.push({ object: o, error: e });
        }
      }
    }
    if (options.json) {
      printJson({
        dryRun: options.dryRun,
        removed: removed.map((o) => objectRef(o)),
        failed: failed.map((f) => ({
          ref: objectRef(f.object),
          code: (f.error as IpcError).code,
          message: f.error.message,
        })),
        missing,
        notes: listing.notes,
      });
    } else {
      const verb = options.dryRun ? "would remove" : "removed";
      for (const o of removed) {
        print(
          `${verb} ${KIND_TITLES[o.kind]} ${
            o.kind.startsWith("sysv-") ? `${o.name} (id ${o.id})` : o.name
          }`,
        );
      }
      if (removed.length === 0 && failed.length === 0 && missing.length === 0) {
        print(
          options.dryRun ? "Nothing would be removed." : "Nothing removed.",
        );
      }
      for (const f of failed) console.error(`error: ${f.error.message}`);
      for (const m of missing) console.error(`error: no object named ${m}`);
      for (const note of listing.notes) console.error(`note: ${note}`);
    }
    return failed.length > 0 || missing.length > 0 ? 1 : 0;
  });
}

function doctor(options: Options): number {
  return withQueues(["mq"], (mqueue) => {
    const checks = doctorChecks(mqueue);
    if (options.json) {
      printJson({ checks });
    } else {
      print(table(
        ["LIMIT", "VALUE", "STATUS", "ADVICE"],
        checks.map((c) => [c.name, c.value, c.status, c.advice]),
      ));
    }
    return 0;
  });
}

/**
 * Runs the command with these arguments and returns its exit status.
 *
 * @param args The arguments after the script's name.
 * @returns 0, 1 (something failed) or 2 (bad arguments).
 */
export function main(args: readonly string[]): number {
  let options: Options;
  try {
    options = parseArguments(args);
    switch (options.command) {
      case "help":
        print(USAGE);
        return 0;
      case "ls":
        return ls(options);
      case "rm":
        return rm(options);
      case "doctor":
        return doctor(options);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`ipckit: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof IpcError) {
      console.error(`ipckit: ${e.message}`);
      return 1;
    }
    if (isPermissionError(e)) {
      console.error(
        `ipckit: ${
          (e as Error).message
        }\nRun it with --allow-ffi: deno run --allow-ffi cli/ipckit.ts (or deno task ipckit)`,
      );
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  process.exitCode = main(process.argv.slice(2));
}
