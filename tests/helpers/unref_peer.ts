// unref_peer.ts unref: an unref'd wait on an eventfd nobody writes must let
// the process exit. unref_peer.ts ref: a plain wait keeps it alive until a
// timer writes the eventfd 300 ms later.
import process from "node:process";
import { libc, waitForDescriptor } from "../../ffi/mod.ts";

const fd = libc().eventfd(0, 0x80800);
const unref = process.argv[2] === "unref";
waitForDescriptor(fd, "read", { unref, timeout: 60_000 }).then((events) =>
  console.log(`woken ${events.readable ? "readable" : "?"}`)
);
if (!unref) {
  const timer = setTimeout(
    () => libc().write(fd, new BigUint64Array([1n]), 8),
    300,
  );
  // Only the wait may keep the process alive, not this timer.
  (timer as unknown as { unref?(): void }).unref?.();
  if ("Deno" in globalThis) Deno.unrefTimer(timer as unknown as number);
}
console.log("waiting");
