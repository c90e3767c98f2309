// Run by Deno with few permissions: importing ipckit must need none, and
// using it without --allow-ffi must fail with Deno's own error, unchanged.
import { MessageQueue } from "../../mod.ts";

console.log("imported");
try {
  MessageQueue.temporary().close();
  console.log("opened");
} catch (error) {
  const e = error as Error;
  console.log(`${e.name} ${e instanceof Deno.errors.NotCapable}`);
}
