// The context of one case: fresh names, keys and files for its inputs, its
// fixture, and what to undo afterwards. Every name carries the run's tag so
// that a leak can be told from another job's objects.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { symlinkSync, writeFileSync } from "node:fs";

import process from "node:process";

// Unique across the children of one sweep: a restarted child must not
// meet the files (a FIFO, say) its predecessor left behind.
const unique = `${process.pid.toString(36)}x`;
let counter = 0;

/** Everything a case made or was given. */
export class Ctx {
  /** The run's tag: the prefix and a random part (`ipckit_test_sweep_ab12`). */
  readonly tag: string;
  /** A directory for files this run maps or locks. */
  readonly dir: string;
  /** POSIX names handed to the case (each may have been created by it). */
  readonly names: string[] = [];
  /** System V keys handed to the case. */
  readonly keys: number[] = [];
  /** Descriptors to close unless a result took them over. */
  readonly fds: number[] = [];
  /** Undo steps of the fixture, run last to first. */
  readonly cleanups: (() => void)[] = [];
  /** The fixture's objects, by name (any type: the modules are swept untyped). */
  // deno-lint-ignore no-explicit-any
  fx: Record<string, any> = {};

  constructor(tag: string, dir: string) {
    this.tag = tag;
    this.dir = dir;
  }

  /** A POSIX name no object has yet. */
  name(): string {
    const name = `/${this.tag}_${unique}${(counter++).toString(36)}`;
    this.names.push(name);
    return name;
  }

  /** A System V key no object has yet (random; 0 and -1 never). */
  key(): number {
    let key = 0;
    while (key === 0 || key === -1) {
      key = (Math.random() * 2 ** 32) | 0;
    }
    this.keys.push(key);
    return key;
  }

  /** The path of a file that does not exist yet. */
  file(): string {
    return join(this.dir, `${this.tag}_${unique}${(counter++).toString(36)}`);
  }

  /** The path of a new file of `size` zero bytes. */
  existingFile(size = 4096): string {
    const path = this.file();
    writeFileSync(path, new Uint8Array(size));
    return path;
  }

  /** A new FIFO (named pipe): opening it for reading alone would block. */
  fifo(): string {
    const path = this.file();
    const r = spawnSync("mkfifo", [path]);
    if (r.status !== 0) throw new Error(`mkfifo ${path} failed`);
    return path;
  }

  /** A new symbolic link to `target`. */
  symlink(target: string): string {
    const path = this.file();
    symlinkSync(target, path);
    return path;
  }

  /** Registers an undo step. */
  defer(step: () => void): void {
    this.cleanups.push(step);
  }
}
