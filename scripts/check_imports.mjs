// Fails when a module imports outside its own folder and ../ffi/mod.ts, or
// when shipped code imports from npm or JSR. Prints each offending import.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../", import.meta.url).pathname;
const modules = readdirSync(root).filter((d) =>
  statSync(join(root, d)).isDirectory() &&
  readdirSync(join(root, d)).includes("mod.ts")
);
const IMPORT =
  /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g;
const problems = [];

function check(file, allowed) {
  // JSDoc examples import the published names: look at code only.
  const text = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith("node:")) continue;
    if (!allowed(spec)) {
      problems.push(`${file.slice(root.length)}: imports "${spec}"`);
    }
  }
}

for (const dir of modules) {
  for (const name of readdirSync(join(root, dir))) {
    if (!name.endsWith(".ts")) continue;
    check(
      join(root, dir, name),
      (spec) =>
        (spec.startsWith("./") && !spec.slice(2).includes("/")) ||
        (dir !== "ffi" && spec === "../ffi/mod.ts"),
    );
  }
}
check(join(root, "mod.ts"), (spec) => /^\.\/\w+\/mod\.ts$/.test(spec));

if (problems.length > 0) {
  console.error("Module independence broken:\n  " + problems.join("\n  "));
  process.exit(1);
}
console.log(
  `imports ok: ${
    modules.join(", ")
  } each import only their own folder and ../ffi/mod.ts`,
);
