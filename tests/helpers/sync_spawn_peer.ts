// Runs env_peer.ts with a sync spawn (execFileSync, as some tests do) from
// a process that imported peer.ts, and prints what env_peer printed: run
// with FORCE_COLOR set, it shows whether the variable reached the child.
import { execFileSync } from "node:child_process";
import { peerCommand, peerEnv } from "./peer.ts";

const [cmd, args] = peerCommand("deno", "tests/helpers/env_peer.ts");
process.stdout.write(
  execFileSync(cmd, args, { encoding: "utf8", env: peerEnv() }),
);
