// A peer process of the tour (examples/tour.ts). It announces itself with one
// JSON line, then runs requests read as JSON lines on stdin, `{ id, op, args }`,
// several at a time, answering each with `{ id, ok, result | error }` on
// stdout. It exits when stdin closes.
//
//   deno run -A examples/tour_peer.ts     bun run examples/tour_peer.ts
import process from "node:process";
import { createInterface } from "node:readline";
import { type PeerOp, RUNTIME } from "./_tour.ts";
import { MODULES } from "./_tour_modules.ts";

const ops: Record<string, PeerOp> = Object.assign(
  {},
  ...MODULES.map((m) => m.ops),
);

function reply(message: unknown): void {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const g = globalThis as {
  Deno?: { version: { deno: string } };
  Bun?: { version: string };
};
reply({
  ready: true,
  runtime: RUNTIME,
  version: g.Deno?.version.deno ?? g.Bun?.version,
  pid: process.pid,
});

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  if (line.trim() === "") return;
  const { id, op, args } = JSON.parse(line) as {
    id: number;
    op: string;
    args: unknown;
  };
  try {
    const run = ops[op];
    if (run === undefined) throw new Error(`unknown operation "${op}"`);
    reply({ id, ok: true, result: await run(args as never) });
  } catch (e) {
    const error = e as Error;
    reply({ id, ok: false, error: `${error?.name}: ${error?.message}` });
  }
});
lines.on("close", () => process.exit(0));
