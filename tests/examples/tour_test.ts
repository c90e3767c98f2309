// `npm run demo` keeps working: the tour runs to the end under this
// runtime (as `npm run demo` and `bun run examples/tour.ts` start it), every
// stop passes, and it ends by pointing to example programs that exist.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  CURRENT,
  finished,
  killPeers,
  ROOT,
  startPeer,
} from "../helpers/peer.ts";
import { MODULES } from "../../examples/_tour_modules.ts";

afterEach(killPeers);

test(`the tour passes under ${CURRENT} and ends with the examples to read`, async () => {
  const child = startPeer(CURRENT, "examples/tour.ts");
  child.stdin?.end();
  const result = await finished(child, 120_000);
  const output =
    `\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  assert.equal(result.code, 0, `the tour failed${output}`);
  assert.match(result.stdout, /^all \d+ stops ok in /m, output);
  const examples = MODULES.flatMap((m) => m.examples ?? []);
  assert.ok(examples.length >= 5, "the modules point to their examples");
  const tail = result.stdout.slice(result.stdout.indexOf("To learn the API"));
  for (const example of examples) {
    assert.ok(existsSync(`${ROOT}${example.file}`), `${example.file} exists`);
    assert.ok(tail.includes(example.file), `the tour lists ${example.file}`);
  }
});
