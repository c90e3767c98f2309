// Kinds and states several modules' descriptions share.
import type { Ctx } from "./_ctx.ts";
import {
  booleanKind,
  enumKind,
  intRange,
  type Kind,
  modeKind,
  numberKind,
  optionsKind,
  specialPaths,
  stringKind,
  type Validity,
} from "./_kinds.ts";
import type { Any, Entry } from "./_spec.ts";

/**
 * The options every `open()` that can create takes: `create`, `exclusive`
 * and a `mode` up to `maxMode`.
 */
export function creationOptions(maxMode: number): Record<string, Kind> {
  return {
    create: booleanKind(true),
    exclusive: booleanKind(undefined),
    mode: modeKind(maxMode),
  };
}

/** The state every handle has: closed. */
export const CLOSED = "after close()";

/** close() and [Symbol.dispose]() succeed in every state. */
export function closers(states: readonly string[]): Entry[] {
  const valid = Object.fromEntries(states.map((s) => [s, "valid" as Validity]));
  return [
    { name: "close", kind: "method", states: valid },
    { name: Symbol.dispose, kind: "method", states: valid },
    { name: "closed", kind: "getter", states: valid },
  ];
}

/** A System V key: a 32-bit integer but 0; numbers that are keys are registered for removal. */
export function keyKind(): Kind {
  const accepts = (n: number): Validity =>
    n === 0
      ? "invalid"
      : Number.isInteger(n) && n >= -(2 ** 31) && n <= 2 ** 32 - 1
      ? "either"
      : "invalid";
  const kind = numberKind((ctx) => ctx.key(), accepts, {
    extra: [["2**32", 2 ** 32], ["-(2**31)-1", -(2 ** 31) - 1]],
  });
  return {
    base: kind.base,
    subs: kind.subs.map((s) => ({
      ...s,
      value: (ctx: Ctx) => {
        const v = s.value(ctx);
        if (typeof v === "number" && accepts(v) !== "invalid") {
          ctx.keys.push(v | 0);
        }
        return v;
      },
    })),
  };
}

/** A System V id (0 is left out: it may be a live object of someone else). */
export function idKind(base: (ctx: Ctx) => number): Kind {
  return numberKind(
    base,
    (n) =>
      Number.isInteger(n) && n >= 0 && n <= 2 ** 31 - 1 ? "either" : "invalid",
    { skip: ["0"], extra: [["2**31-1 (no such id)", 2 ** 31 - 1]] },
  );
}

/** `keyFromPath(path, projectId)`'s parameters. */
export function keyFromPathParams(): (readonly [string, Kind])[] {
  return [
    [
      "path",
      (() => {
        const kind = stringKind((ctx) => ctx.existingFile(), {
          slash: "either",
          noSlash: "either",
          inner: "either",
          long: "either",
        });
        return { ...kind, subs: [...kind.subs, ...specialPaths()] };
      })(),
    ],
    [
      "projectId",
      numberKind(1, intRange(1, 255), {
        extra: [["255", 255], ["256", 256]],
      }),
    ],
  ];
}

/** An `access` option. */
export function accessKind(values: readonly string[]): Kind {
  return enumKind(
    undefined,
    values,
    ["readwrite", "write-only"].filter((v) => !values.includes(v)),
  );
}

/** An options object whose `{}` is valid but which is required. */
export function changesKind(fields: Record<string, Kind>): Kind {
  const kind = optionsKind(fields, { optional: false });
  return {
    ...kind,
    subs: kind.subs.map((s) =>
      s.label === "{}"
        ? { ...s, validity: "valid" }
        : s.label === "undefined"
        ? { ...s, validity: "either" }
        : s
    ),
  };
}

/** Releases a private System V object a call returned: remove, then close. */
export function removeThenClose(result: Any): void {
  try {
    result.remove();
  } finally {
    result.close();
  }
}

/** Drives an async generator one step; its return() runs at cleanup. */
export function firstOf(generator: Any, ctx: Ctx): Promise<unknown> {
  ctx.defer(() => {
    generator.return(undefined).catch(() => {});
  });
  return generator.next();
}

/**
 * A System V class's `fromId(id, options?)` and `remove(id)`, over the
 * fixture's own id; `access` lists the access values fromId takes (none: it
 * takes no options).
 */
export function sysvIdStatics(
  id: (ctx: Ctx) => number,
  access?: readonly string[],
): Entry[] {
  const fromIdParams: (readonly [string, Kind])[] = [["id", idKind(id)]];
  if (access !== undefined) {
    fromIdParams.push(["options", optionsKind({ access: accessKind(access) })]);
  }
  return [
    { name: "fromId", kind: "static", fixture: true, params: fromIdParams },
    {
      name: "remove",
      kind: "static",
      fixture: true,
      params: [["id", idKind(id)]],
    },
  ];
}
