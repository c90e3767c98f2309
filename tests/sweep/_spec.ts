// How a module's entry points are described to the sweep, and how cases are
// generated from the descriptions: for each entry point, one valid call,
// then each parameter (and each field of an options parameter) replaced in
// turn by every value of its kind, then the valid call in every state the
// class lists (after close(), after remove(), memory gone).
import type { Ctx } from "./_ctx.ts";
import type { Kind, Validity } from "./_kinds.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

/** How an entry point is reached. */
export type EntryKind = "static" | "method" | "getter" | "setter";

/** One entry point. */
export interface Entry {
  /** The member's name (a symbol for `Symbol.dispose` and friends). */
  name: string | symbol;
  kind: EntryKind;
  /** The positional parameters, in order: a name (for case ids) and a kind. */
  params?: readonly (readonly [string, Kind])[];
  /**
   * Makes the call (default: `target[name](...args)`); what it returns is
   * awaited when it is a promise.
   */
  call?: (target: Any, args: unknown[], ctx: Ctx) => unknown;
  /** A static that needs the class's fixture too (an id or name to use). */
  fixture?: boolean;
  /**
   * The validity of every case of this entry, whatever the arguments: "invalid"
   * where the fixture forbids the call (a write to a read-only mapping).
   */
  validity?: Validity;
  /** Runs 20 ms after an async call (to satisfy a wait that may block). */
  kick?: (ctx: Ctx) => void;
  /** Releases what a successful call returned (default: release/unlock/close). */
  dispose?: (result: Any, ctx: Ctx) => void;
  /**
   * Per state: may the call succeed there ("valid"), must it fail
   * ("invalid", the default), or either.
   */
  states?: Readonly<Record<string, Validity>>;
}

/** A class (or a variant of one, with another fixture) and its entry points. */
export interface ClassSpec {
  /** The label in case ids, such as `Semaphore` or `Semaphore (unnamed)`. */
  label: string;
  /** The export it describes (coverage is checked against its members). */
  exportName: string;
  /** The class itself, or the module namespace for plain functions. */
  target: Any;
  /** Makes the instance the methods are called on (its undo steps in ctx). */
  fixture?: (ctx: Ctx) => Any;
  /**
   * For a fixture where the calls wait (an empty queue, a semaphore at 0):
   * how long an async call may stay pending; it is then recorded as
   * "pending", which passes where the input is valid (no limit was asked)
   * and only if closing the fixture ends the call.
   */
  bound?: number;
  /**
   * The fixture itself is a bad input (memory or a file that holds garbage)
   * that the module may refuse: its error is then the case's outcome.
   */
  fixtureMayFail?: boolean;
  /** States the instance can be put in before a call, by name. */
  states?: Readonly<Record<string, (instance: Any, ctx: Ctx) => void>>;
  entries: readonly Entry[];
}

/** One generated case. */
export interface Case {
  id: string;
  spec: ClassSpec;
  entry: Entry;
  /** The arguments, made fresh for the run. */
  args: (ctx: Ctx) => unknown[];
  /** Whether the input is allowed. */
  validity: Validity;
  /** The state the instance is put in first, if any. */
  state?: string;
  /** A short description of the input, for the report. */
  input: string;
  /** The input has the wrong type (a TypeError is the right refusal). */
  wrongType?: boolean;
}

/** The name of a member as the case id shows it. */
export function memberName(name: string | symbol): string {
  return typeof name === "symbol" ? `[${name.description}]` : name;
}

function entryLabel(spec: ClassSpec, entry: Entry): string {
  const sep = entry.kind === "static" ? "." : "#";
  const member = memberName(entry.name) + (entry.kind === "setter" ? "=" : "");
  return spec.label === "functions" ? member : `${spec.label}${sep}${member}`;
}

/** Every case for the given classes, in a fixed order. */
export function generate(specs: readonly ClassSpec[]): Case[] {
  const cases: Case[] = [];
  for (const spec of specs) {
    for (const entry of spec.entries) {
      const label = entryLabel(spec, entry);
      const params = entry.params ?? [];
      const base = (ctx: Ctx) => params.map(([, kind]) => kind.base(ctx));
      cases.push({
        id: `${label} valid call`,
        spec,
        entry,
        args: base,
        validity: entry.validity ?? "valid",
        input: "valid arguments",
      });
      params.forEach(([pname, kind], i) => {
        for (const s of kind.subs) {
          cases.push({
            id: `${label}(${pname}: ${s.label})`,
            spec,
            entry,
            args: (ctx) => {
              const args = base(ctx);
              args[i] = s.value(ctx);
              return args;
            },
            validity: entry.validity ?? s.validity,
            input: `${pname} = ${s.label}`,
            wrongType: s.wrongType,
          });
        }
        for (const [field, fkind] of Object.entries(kind.fields ?? {})) {
          for (const s of fkind.subs) {
            cases.push({
              id: `${label}(${pname}.${field}: ${s.label})`,
              spec,
              entry,
              args: (ctx) => {
                const args = base(ctx);
                args[i] = { ...(args[i] as object), [field]: s.value(ctx) };
                return args;
              },
              validity: entry.validity ?? s.validity,
              input: `${pname}.${field} = ${s.label}`,
              wrongType: s.wrongType,
            });
          }
        }
      });
      if (entry.kind === "static") continue;
      for (const state of Object.keys(spec.states ?? {})) {
        cases.push({
          id: `${label} ${state}`,
          spec,
          entry,
          args: base,
          validity: entry.states?.[state] ?? "invalid",
          state,
          input: `valid arguments ${state}`,
        });
      }
    }
  }
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) throw new Error(`Two cases named ${c.id}`);
    seen.add(c.id);
  }
  return cases;
}

/** The public members of a class: statics and instance members, inherited ones too. */
export function reflectMembers(
  cls: Any,
  hidden: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): { name: string | symbol; kind: EntryKind }[] {
  const out: { name: string | symbol; kind: EntryKind }[] = [];
  const seen = new Set<string | symbol>();
  const isHidden = (owner: Any, key: string | symbol) =>
    typeof key === "string" && hidden.get(owner.name)?.has(key) === true;
  for (const key of Reflect.ownKeys(cls)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    if (isHidden(cls, key)) continue;
    const d = Object.getOwnPropertyDescriptor(cls, key)!;
    if (typeof d.value === "function" || d.get !== undefined) {
      out.push({ name: key, kind: "static" });
    }
  }
  for (
    let proto = cls.prototype;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Reflect.ownKeys(proto)) {
      if (key === "constructor" || seen.has(key)) continue;
      seen.add(key);
      if (isHidden(proto.constructor, key)) continue;
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      if (typeof d.value === "function") {
        out.push({ name: key, kind: "method" });
      }
      if (d.get !== undefined) out.push({ name: key, kind: "getter" });
      if (d.set !== undefined) out.push({ name: key, kind: "setter" });
    }
  }
  return out;
}

/** Options for {@linkcode coverage}. */
export interface CoverageOptions {
  /** The module's namespace (`import * as mq from "../../mq/mod.ts"`). */
  module: Record<string, unknown>;
  /** Exports of ffi/ the module re-exports (not the module's own). */
  foreign: Record<string, unknown>;
  /** Exports left out on purpose, with the reason. */
  notCovered: Readonly<Record<string, string>>;
  specs: readonly ClassSpec[];
  /** Wrong values to call an undescribed member with. */
  generic: Kind;
  /** Members declared `protected` or `private`, by class (see {@linkcode hiddenMembers}). */
  hidden: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The members each class declares `protected` or `private`, by class name:
 * not public entry points, though JavaScript reaches them.
 */
export function hiddenMembers(
  sources: readonly string[],
): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const member =
    /\b(?:protected|private)\s+(?:(?:abstract|override|readonly|static|async)\s+)*(?:(?:get|set)\s+)?([A-Za-z_$][\w$]*)/g;
  for (const text of sources) {
    // Top-level classes: from "class Name" to the next top-level declaration.
    const starts = [
      ...text.matchAll(/^(?:export )?(?:abstract )?class (\w+)/gm),
    ];
    starts.forEach((m, i) => {
      const end = starts[i + 1]?.index ?? text.length;
      const body = text.slice(m.index, end);
      const names = out.get(m[1]) ?? new Set<string>();
      for (const n of body.matchAll(member)) {
        if (n[1] !== "constructor") names.add(n[1]);
      }
      out.set(m[1], names);
    });
  }
  return out;
}

/**
 * Checks the descriptions against the module's exports: an exported class
 * or function member no description lists still gets generic cases (every
 * wrong type as its first argument, and after every state), plus one case
 * that fails and names it, so the sweep cannot fall behind the API.
 */
export function coverage(options: CoverageOptions): ClassSpec[] {
  const { module, foreign, notCovered, specs, generic, hidden } = options;
  const extra: ClassSpec[] = [];
  const missing: Entry[] = [];
  const functions = new Set(
    specs.filter((s) => s.label === "functions").flatMap((s) =>
      s.entries.map((e) => e.name)
    ),
  );
  for (const [name, value] of Object.entries(module)) {
    if (foreign[name] === value || name in notCovered) continue;
    if (typeof value !== "function") continue;
    const isClass = /^class\b/.test(Function.prototype.toString.call(value));
    if (!isClass) {
      if (!functions.has(name)) {
        missing.push(marker(name));
        extra.push({
          label: "functions (undescribed)",
          exportName: name,
          target: module,
          entries: [{
            name,
            kind: "static",
            params: [["arg0", generic], ["arg1", generic]],
          }],
        });
      }
      continue;
    }
    const own = specs.filter((s) => s.exportName === name);
    const described = new Set(
      own.flatMap((s) => s.entries.map((e) => `${e.kind}:${String(e.name)}`)),
    );
    const undescribed = reflectMembers(value, hidden).filter((m) =>
      !described.has(`${m.kind}:${String(m.name)}`)
    );
    if (own.length === 0) {
      missing.push(marker(name));
      extra.push({
        label: `${name} (undescribed)`,
        exportName: name,
        target: value,
        entries: undescribed.filter((m) => m.kind === "static").map((m) => ({
          name: m.name,
          kind: m.kind,
          params: [["arg0", generic], ["arg1", generic]] as const,
        })),
      });
      continue;
    }
    if (undescribed.length === 0) continue;
    const withFixture = own.find((s) => s.fixture !== undefined);
    for (const m of undescribed) {
      missing.push(marker(`${name} ${m.kind} ${memberName(m.name)}`));
    }
    extra.push({
      label: `${name} (undescribed)`,
      exportName: name,
      target: value,
      fixture: withFixture?.fixture,
      states: withFixture?.states,
      entries: undescribed.filter((m) =>
        m.kind === "static" || withFixture !== undefined
      ).map((m) => ({
        name: m.name,
        kind: m.kind,
        params: m.kind === "getter" ? [] : [["arg0", generic]] as const,
        states: Object.fromEntries(
          Object.keys(withFixture?.states ?? {}).map((s) => [s, "either"]),
        ),
      })),
    });
  }
  if (missing.length > 0) {
    extra.push({
      label: "coverage",
      exportName: "",
      target: {},
      entries: missing,
    });
  }
  return extra;
}

function marker(what: string): Entry {
  return {
    name: `${what} is described in tests/sweep`,
    kind: "static",
    call: () => {
      throw new Error(
        `${what} has no description in tests/sweep/_<module>.ts: add its parameters`,
      );
    },
  };
}
