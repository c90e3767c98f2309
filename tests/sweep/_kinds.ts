// The values the sweep substitutes, grouped by the kind of parameter they
// replace. Each value says whether the parameter's documentation allows it
// ("valid": it must not be refused silently... nor crash; "invalid": it must
// end in TypeError, RangeError or IpcError; "either": both are defensible).
// Values are made per case (a detached buffer or a signal cannot be shared).
import type { Ctx } from "./_ctx.ts";

/** Whether a value is allowed by the parameter's documentation. */
export type Validity = "valid" | "invalid" | "either";

/** One substitution: a label for the case id, the value, its validity. */
export interface Sub {
  label: string;
  value: (ctx: Ctx) => unknown;
  validity: Validity;
  /** A value of the wrong type: STYLE.md wants a TypeError for it. */
  wrongType?: boolean;
}

/** A parameter kind: the value a valid call passes, and what replaces it. */
export interface Kind {
  base: (ctx: Ctx) => unknown;
  subs: readonly Sub[];
  /** For an options object: its fields, each substituted in turn. */
  fields?: Readonly<Record<string, Kind>>;
}

const sub = (
  label: string,
  value: unknown,
  validity: Validity,
): Sub => ({ label, value: () => value, validity });

/** A value made per case. */
const make = (
  label: string,
  value: (ctx: Ctx) => unknown,
  validity: Validity,
): Sub => ({ label, value, validity });

function noop() {}

/** Wrong types, by the `typeof` they have; `exclude` names the right ones. */
const TYPED: Record<string, Sub[]> = {
  number: [sub("42", 42, "invalid")],
  string: [sub('"42"', "42", "invalid")],
  boolean: [sub("true", true, "invalid")],
  bigint: [sub("1n", 1n, "invalid")],
  function: [sub("function", noop, "invalid")],
  null: [sub("null", null, "invalid")],
  object: [
    sub("{}", {}, "invalid"),
    sub("[]", [], "invalid"),
    make("new Number(42)", () => new Number(42), "invalid"),
    make('new String("/x")', () => new String("/x"), "invalid"),
    make("{ valueOf: () => 42 }", () => ({ valueOf: () => 42 }), "invalid"),
  ],
};

/** The wrong types for a parameter whose right types are `right`. */
export function wrongTypes(...right: string[]): Sub[] {
  return Object.entries(TYPED).filter(([type]) => !right.includes(type))
    .flatMap(([, subs]) => subs.map((s) => ({ ...s, wrongType: true })));
}

/** `undefined`: valid where the parameter is optional. */
export function undefinedSub(optional: boolean): Sub {
  return sub("undefined", undefined, optional ? "valid" : "invalid");
}

/** The numbers every numeric parameter meets. */
const NUMBERS: readonly [string, number][] = [
  ["NaN", NaN],
  ["-1", -1],
  ["0", 0],
  ["0.5", 0.5],
  ["2**31", 2 ** 31],
  ["2**40", 2 ** 40],
  ["2**53", 2 ** 53],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
];

/** Options for {@linkcode numberKind}. */
export interface NumberKindOptions {
  /** Whether `undefined` is allowed (the parameter or field is optional). */
  optional?: boolean;
  /** More numbers, for the kind's own edges. */
  extra?: readonly [string, number][];
  /** Labels of numbers not to try (they would block, say). */
  skip?: readonly string[];
}

/**
 * A number parameter: `accepts` tells which numbers are valid (from the
 * documentation); every other type is invalid.
 */
export function numberKind(
  base: number | undefined | ((ctx: Ctx) => unknown),
  accepts: (n: number) => Validity,
  options: NumberKindOptions = {},
): Kind {
  const seen = new Set<string>();
  const subs: Sub[] = [];
  for (const [label, n] of [...NUMBERS, ...(options.extra ?? [])]) {
    if (seen.has(label) || options.skip?.includes(label)) continue;
    seen.add(label);
    subs.push(sub(label, n, accepts(n)));
  }
  subs.push(
    ...wrongTypes("number"),
    undefinedSub(options.optional ?? false),
  );
  return { base: typeof base === "function" ? base : () => base, subs };
}

/** An integer from `min` to `max`. */
export const intRange = (min: number, max: number) => (n: number): Validity =>
  Number.isInteger(n) && n >= min && n <= max ? "valid" : "invalid";

/** A boolean option. */
export function booleanKind(base: boolean | undefined, optional = true): Kind {
  return {
    base: () => base,
    subs: [
      sub("true", true, "valid"),
      sub("false", false, "valid"),
      sub('"true"', "true", "invalid"),
      sub("1", 1, "invalid"),
      sub("0", 0, "invalid"),
      ...wrongTypes("boolean", "number", "string"),
      undefinedSub(optional),
    ],
  };
}

/** A string option with a fixed set of values. */
export function enumKind(
  base: string | undefined,
  values: readonly string[],
  invalid: readonly string[],
  optional = true,
): Kind {
  return {
    base: () => base,
    subs: [
      ...values.map((v) => sub(JSON.stringify(v), v, "valid")),
      ...[...invalid, "", v0(values).toUpperCase()].map((v) =>
        sub(JSON.stringify(v), v, "invalid")
      ),
      ...wrongTypes("string"),
      undefinedSub(optional),
    ],
  };
}

function v0(values: readonly string[]): string {
  return values[0];
}

/** The bad strings every name or path meets (each carries the run's tag). */
function badStrings(ctx: Ctx): Record<string, string> {
  return {
    empty: "",
    nul: `/${ctx.tag}_n\0b`,
    long: `/${ctx.tag}_${"x".repeat(300)}`,
    noSlash: `${ctx.tag}_noslash`,
    slash: "/",
    inner: `/${ctx.tag}_a/b`,
  };
}

const STRING_LABELS: readonly [string, string][] = [
  ["empty", '""'],
  ["nul", '"/…\\0b"'],
  ["long", '"/" + 300 characters'],
  ["noSlash", "a name without a leading /"],
  ["slash", '"/"'],
  ["inner", '"/a/b"'],
];

/**
 * A name or path; `validity` says which of the bad strings the parameter's
 * documentation allows.
 */
export function stringKind(
  base: (ctx: Ctx) => unknown,
  validity: Partial<Record<string, Validity>> = {},
  optional = false,
): Kind {
  return {
    base,
    subs: [
      ...STRING_LABELS.map(([key, label]) =>
        make(label, (ctx) => badStrings(ctx)[key], validity[key] ?? "invalid")
      ),
      ...wrongTypes("string"),
      undefinedSub(optional),
    ],
  };
}

/** A POSIX IPC name (`/name`), with `also` (other objects posing under it). */
export const posixName = (
  base: (ctx: Ctx) => string,
  also: readonly Sub[] = [],
): Kind => {
  const kind = stringKind(base);
  return {
    ...kind,
    subs: [
      ...kind.subs,
      // 200 characters, 400 bytes of UTF-8: over NAME_MAX in bytes.
      sub('"/" + 200 × "é" (400 bytes)', `/${"é".repeat(200)}`, "invalid"),
      // Odd but possible names: registered, so that what they create goes.
      ...["/.", "/.."].map((name) =>
        make(JSON.stringify(name), (ctx) => {
          ctx.names.push(name);
          return name;
        }, "either")
      ),
      ...also,
    ],
  };
};

/** Files that are not regular files, and links: for paths a call opens. */
export function specialPaths(): Sub[] {
  return [
    sub('"/dev/zero"', "/dev/zero", "either"),
    sub('"/dev/null"', "/dev/null", "either"),
    sub('"/proc/self/status"', "/proc/self/status", "either"),
    make("a directory", (ctx) => ctx.dir, "either"),
    make("a FIFO", (ctx) => ctx.fifo(), "either"),
    make(
      "a symlink to a file",
      (ctx) => ctx.symlink(ctx.existingFile(4096)),
      "valid",
    ),
    make("a dangling symlink", (ctx) => ctx.symlink(ctx.file()), "either"),
    sub('"/" + 200 × "é" (400 bytes)', `/${"é".repeat(200)}`, "either"),
  ];
}

/**
 * An options object: `fields` are substituted one at a time, the others at
 * their base values. `required` fields make `undefined` and `{}` invalid.
 */
export function optionsKind(
  fields: Record<string, Kind>,
  options: { optional?: boolean; skip?: readonly string[] } = {},
): Kind {
  const optional = options.optional ?? true;
  const subs: Sub[] = [
    sub("null", null, "invalid"),
    sub("42", 42, "invalid"),
    sub('"x"', "x", "invalid"),
    sub("[]", [], "invalid"),
    sub("true", true, "invalid"),
    sub("function", noop, "invalid"),
    undefinedSub(optional),
    sub("{}", {}, optional ? "valid" : "invalid"),
  ];
  return {
    base: (ctx) => {
      const o: Record<string, unknown> = {};
      for (const [name, kind] of Object.entries(fields)) {
        const v = kind.base(ctx);
        if (v !== undefined) o[name] = v;
      }
      return o;
    },
    subs: subs.filter((s) => !options.skip?.includes(s.label)),
    fields,
  };
}

// --- Kinds shared by the modules --------------------------------------------

/** A `timeout` option; `unbounded: false` leaves out waits without end. */
export function timeoutKind(
  base: number | undefined,
  unbounded = true,
): Kind {
  const skip = unbounded ? [] : ["2**31", "2**40", "2**53", "Infinity"];
  const kind = numberKind(base, (n) => n >= 0 ? "valid" : "invalid", {
    optional: true,
    skip,
  });
  return {
    ...kind,
    subs: kind.subs.filter((s) => unbounded || s.label !== "undefined"),
  };
}

/** A `signal` option. */
export const signalKind: Kind = {
  base: () => undefined,
  subs: [
    make("a live AbortSignal", () => new AbortController().signal, "valid"),
    make("an aborted AbortSignal", () => AbortSignal.abort(), "valid"),
    make("AbortSignal.timeout(5)", () => AbortSignal.timeout(5), "valid"),
    sub("{ aborted: false }", { aborted: false }, "invalid"),
    make("an EventTarget", () => new EventTarget(), "invalid"),
    ...wrongTypes(),
    undefinedSub(true),
  ],
};

/** A `spin` option (µs, 0 to 1,000,000). */
export const spinKind: Kind = numberKind(
  () => 10,
  (n) => n >= 0 && n <= 1_000_000 ? "valid" : "invalid",
  { optional: true, extra: [["1000001", 1_000_001], ["1000000", 1_000_000]] },
);

/** A `mode` option (permission bits, at most `max`). */
export function modeKind(max: number): Kind {
  return numberKind(() => 0o600, intRange(0, max), {
    optional: true,
    extra: [["0o777", 0o777], ["0o1000", 0o1000], ["0o10000", 0o10000]],
  });
}

/**
 * A size in bytes (a positive safe integer). 2**40 must be refused before
 * anything is reserved; 2**31 is left out: valid, it would reserve 2 GiB.
 */
export function sizeKind(base: number, optional = false): Kind {
  return numberKind(base, (n) =>
    n === 2 ** 40
      ? "invalid" // more than the machine holds: refused before reserving
      : Number.isSafeInteger(n) && n > 0
      ? "valid"
      : "invalid", { optional, extra: [["1", 1]], skip: ["2**31"] });
}

/** A payload: a string, an ArrayBuffer or any ArrayBufferView. */
export function payloadKind(
  tooBig: number | undefined,
  base: (ctx: Ctx) => unknown = () => "payload",
): Kind {
  const subs: Sub[] = [
    sub('""', "", "valid"),
    make("Int32Array(2)", () => new Int32Array([1, 2]), "valid"),
    make("DataView(8)", () => new DataView(new ArrayBuffer(8)), "valid"),
    make("ArrayBuffer(8)", () => new ArrayBuffer(8), "valid"),
    make("SharedArrayBuffer(8)", () => new SharedArrayBuffer(8), "valid"),
    make("a detached ArrayBuffer", () => detached(), "either"),
    make("a view of a detached ArrayBuffer", () => {
      const b = new ArrayBuffer(8);
      const v = new Uint8Array(b);
      b.transfer();
      return v;
    }, "either"),
    make("a resizable ArrayBuffer", () => resizable(8), "valid"),
    make(
      "a length-tracking view of a resizable ArrayBuffer",
      () => new Uint8Array(resizable(8)),
      "valid",
    ),
    make("[1, 2, 3]", () => [1, 2, 3], "invalid"),
    make("{ length: 3 }", () => ({ length: 3 }), "invalid"),
    make('new String("x")', () => new String("x"), "invalid"),
    ...wrongTypes("object", "string"),
    sub("{}", {}, "invalid"),
    undefinedSub(false),
  ];
  if (tooBig !== undefined) {
    subs.push(
      make(
        `Uint8Array(${tooBig}) (too big)`,
        () => new Uint8Array(tooBig),
        "invalid",
      ),
    );
  }
  return { base, subs };
}

/** A buffer to receive into: an ArrayBuffer or any ArrayBufferView. */
export function targetKind(size: number, tooSmall: boolean): Kind {
  const subs: Sub[] = [
    make(
      `Float64Array(${size / 8})`,
      () => new Float64Array(size / 8),
      "valid",
    ),
    make(`ArrayBuffer(${size})`, () => new ArrayBuffer(size), "valid"),
    make(
      `a resizable ArrayBuffer(${size})`,
      () => resizable(size),
      "valid",
    ),
    make("a detached ArrayBuffer", () => detached(), "either"),
    sub('"text"', "text", "invalid"),
    make(`[0, 0, 0] (an Array)`, () => [0, 0, 0], "invalid"),
    ...wrongTypes("string"),
    undefinedSub(false),
  ];
  if (tooSmall) {
    subs.push(
      make("Uint8Array(1) (too small)", () => new Uint8Array(1), "invalid"),
    );
  }
  return { base: () => new Uint8Array(size), subs };
}

/** An ArrayBuffer of `size` bytes that may grow to four times that. */
export function resizable(size: number): ArrayBuffer {
  return new ArrayBuffer(size, { maxByteLength: size * 4 });
}

/** An ArrayBuffer whose memory was transferred away (byteLength 0). */
export function detached(): ArrayBuffer {
  const b = new ArrayBuffer(8);
  b.transfer();
  return b;
}

/** The ArrayBuffer or SharedArrayBuffer a semaphore, mutex or condition lives in. */
export function memoryKind(base: (ctx: Ctx) => unknown): Kind {
  return {
    base,
    subs: [
      make("SharedArrayBuffer(64)", () => new SharedArrayBuffer(64), "valid"),
      make("ArrayBuffer(64)", () => new ArrayBuffer(64), "valid"),
      make("a resizable ArrayBuffer(64)", () => resizable(64), "either"),
      make("Uint8Array(64) (a view)", () => new Uint8Array(64), "invalid"),
      make("DataView(64)", () => new DataView(new ArrayBuffer(64)), "invalid"),
      make("ArrayBuffer(4) (too small)", () => new ArrayBuffer(4), "invalid"),
      make("a detached ArrayBuffer", () => detached(), "invalid"),
      ...wrongTypes(),
      undefinedSub(false),
    ],
  };
}

/** A typed-array constructor (for `view()`). */
export const typedArrayKind: Kind = {
  base: () => Int32Array,
  subs: [
    sub("Uint8Array", Uint8Array, "valid"),
    sub("BigInt64Array", BigInt64Array, "valid"),
    sub("Float64Array", Float64Array, "valid"),
    sub("Array", Array, "invalid"),
    sub("DataView", DataView, "invalid"),
    sub("ArrayBuffer", ArrayBuffer, "invalid"),
    sub("Object", Object, "invalid"),
    sub('"Int32Array"', "Int32Array", "invalid"),
    sub("an Int32Array instance", new Int32Array(1), "invalid"),
    sub("{ BYTES_PER_ELEMENT: 4 }", { BYTES_PER_ELEMENT: 4 }, "invalid"),
    ...wrongTypes("object"),
    undefinedSub(false),
  ],
};

/** Values for a parameter nobody described: anything may happen but a crash. */
export const genericKind: Kind = {
  base: () => undefined,
  subs: [
    ...wrongTypes(),
    sub("NaN", NaN, "either"),
    sub("-1", -1, "either"),
    sub("2**40", 2 ** 40, "either"),
    sub('"/…\\0b"', "/a\0b", "either"),
  ].map((s) => ({ ...s, validity: "either" as Validity })),
};

/** `kind` with the sub labelled `label` given another validity. */
export function withValidity(
  kind: Kind,
  label: string,
  validity: Validity,
): Kind {
  return {
    ...kind,
    subs: kind.subs.map((s) => s.label === label ? { ...s, validity } : s),
  };
}
