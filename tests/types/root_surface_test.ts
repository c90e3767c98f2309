// The root module's surface: the user-facing API of every module, IpcError
// and isTimeoutError, and none of ffi's binding (libc(), the wait path, the
// validators), which stays at @ipckit/ipc/ffi.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ROOT } from "../helpers/peer.ts";

/**
 * What a module may re-export from ffi: the classes and helpers users meet
 * (the base classes of their handles: a pipe's or FIFO's ends).
 */
const SHARED = new Set([
  "IpcError",
  "isTimeoutError",
  "Handle",
  "DescriptorHandle",
  "DescriptorReader",
  "DescriptorWriter",
]);

const entries = Object.entries(
  JSON.parse(readFileSync(`${ROOT}deno.json`, "utf8")).exports as Record<
    string,
    string
  >,
);

async function names(path: string): Promise<Set<string>> {
  return new Set(Object.keys(await import(`${ROOT}${path.slice(2)}`)));
}

test("the root exports every module's API, IpcError and isTimeoutError, and no ffi internals", async () => {
  const root = await names("./mod.ts");
  const ffi = await names("./ffi/mod.ts");
  const expected = new Set(["IpcError", "isTimeoutError"]);
  for (const [key, path] of entries) {
    if (key === "." || key === "./ffi") continue;
    for (const name of await names(path)) expected.add(name);
  }
  assert.deepEqual([...root].sort(), [...expected].sort());
  const leaked = [...root].filter((n) => ffi.has(n) && !SHARED.has(n));
  assert.deepEqual(leaked, [], "ffi internals in the root module");
  for (const internal of ["libc", "sys", "waitUntil", "futexWait", "errno"]) {
    assert.ok(ffi.has(internal), `${internal} is at @ipckit/ipc/ffi`);
    assert.ok(!root.has(internal), `${internal} is not in the root module`);
  }
});

test("no module re-exports ffi's binding (it would reach the root)", async () => {
  const ffi = await names("./ffi/mod.ts");
  for (const [key, path] of entries) {
    if (key === "." || key === "./ffi") continue;
    const leaked = [...await names(path)].filter((n) =>
      ffi.has(n) && !SHARED.has(n)
    );
    assert.deepEqual(leaked, [], `${key} re-exports ffi internals`);
  }
});
