// Maps a MappedFile.temporary() of 4096 bytes in $TMPDIR (no `dir` option:
// the default folder) with the name prefix argv[3], writes the prefix into
// it, prints its path on its first line, then, without closing it, ends
// the way argv[2] says:
//   normal  the program ends
//   throw   an uncaught error in a timer
//   wait    waits for a signal (no listener of its own)
import process from "node:process";
import { MappedFile } from "../../shm/mod.ts";

const [mode, prefix = ""] = process.argv.slice(2);
const file = MappedFile.temporary({ size: 4096, prefix });
file.write(prefix, 0);
console.log(file.path);
if (mode === "throw") {
  setTimeout(() => {
    throw new Error("peer failed on purpose");
  }, 10);
} else if (mode === "wait") {
  setInterval(() => {}, 1000);
} else if (mode !== "normal") {
  throw new Error(`unknown mode ${mode}`);
}
