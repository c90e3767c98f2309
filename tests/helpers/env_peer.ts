// Prints what a peer sees of its own start, as JSON: its uid, the path of
// this script, and the colour variables of its environment; `false` is
// printed through console.log, so a colour escape shows.
import process from "node:process";

console.log(
  JSON.stringify({
    uid: process.getuid?.(),
    script: new URL(import.meta.url).pathname,
    FORCE_COLOR: process.env.FORCE_COLOR ?? null,
    NO_COLOR: process.env.NO_COLOR ?? null,
  }),
);
console.log(false);
