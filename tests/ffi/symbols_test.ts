import { test } from "node:test";
import assert from "node:assert/strict";
import { type Libc, libc } from "../../ffi/mod.ts";
import { SYMBOL_GROUPS } from "../../ffi/_symbols.ts";

// The tables and the Libc interface must name the same functions with the
// same number of arguments: checked by the type checker (deno check and tsc
// run over this file in npm test; it fails when one arity is changed).
type Tables = typeof SYMBOL_GROUPS[number][0];
type Table = UnionToIntersection<Tables>;
type UnionToIntersection<U> =
  (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I
    : never;
type Arity<F> = F extends (...args: infer A) => unknown ? A["length"] : never;
type Mismatch = {
  [K in keyof Libc]: K extends keyof Table
    ? Table[K] extends { args: readonly unknown[] }
      ? Table[K]["args"]["length"] extends Arity<Libc[K]> ? never : K
    : K
    : K;
}[keyof Libc];
type Extra = Exclude<keyof Table, keyof Libc>;
// Not a runtime test (the suite runs with --no-check): `deno check` and
// `tsc` in npm test refuse this line when a name or an arity differs.
const _tablesMatchLibc: [Mismatch, Extra] extends [never, never] ? true
  : false = true;

test("every function in the tables binds on this machine, lazily, and only once", () => {
  const names = SYMBOL_GROUPS.flatMap(([table]) => Object.keys(table));
  assert.equal(new Set(names).size, names.length, "a name in two tables");
  const calls = libc() as unknown as Record<string, unknown>;
  for (const name of names) {
    const first = calls[name];
    assert.equal(typeof first, "function", name);
    assert.equal(calls[name], first, `${name} is bound once`);
  }
  assert.deepEqual(Object.keys(calls).sort(), [...names].sort());
});
