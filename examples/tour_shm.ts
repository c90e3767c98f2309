// The tour's shared memory stops, and the peer operations they use. The
// tour process creates every object (SharedMemory.temporary(), unlinked when
// the stop ends); peers only open them by name.
import { IpcError, SharedMemory } from "../shm/mod.ts";
import {
  check,
  type PeerOp,
  type Runtime,
  type Stop,
  type TourModule,
} from "./_tour.ts";

const MB = 1 << 20;
const created: string[] = [];

function pattern(i: number, seed: number): number {
  return (i * 31 + seed + (i >>> 8)) & 255;
}

// ---- peer operations -------------------------------------------------------

const ops: Record<string, PeerOp> = {
  /** Fills a shared memory object with the pattern of `seed`. */
  "shm.write": ({ name, seed }: { name: string; seed: number }) => {
    using shm = SharedMemory.open(name);
    const bytes = new Uint8Array(shm.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = pattern(i, seed);
    return Promise.resolve(bytes.length);
  },

  /** Checks the pattern; returns the first wrong byte's index, or -1. */
  "shm.check": ({ name, seed }: { name: string; seed: number }) => {
    using shm = SharedMemory.open(name, { access: "read" });
    const bytes = shm.read();
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== pattern(i, seed)) return Promise.resolve(i);
    }
    return Promise.resolve(-1);
  },
};

// ---- stops -------------------------------------------------------------------

function crossing(from: Runtime, to: Runtime): Stop {
  return {
    name: "shm/1MB",
    from,
    to,
    what: "1 MiB written in one process is read byte-exact in the other",
    async run(tour) {
      using shm = SharedMemory.temporary({ size: MB });
      created.push(shm.name);
      const seed = Math.floor(Math.random() * 256);
      await tour.peer(from).call("shm.write", { name: shm.name, seed });
      const wrong = await tour.peer(to).call<number>("shm.check", {
        name: shm.name,
        seed,
      });
      check(wrong === -1, `byte ${wrong} differs`);
    },
  };
}

const leftovers: Stop = {
  name: "shm/cleanup",
  from: "-",
  to: "-",
  what: "every shared memory object the tour made is gone",
  run() {
    const left: string[] = [];
    for (const name of created) {
      try {
        SharedMemory.open(name).close();
        left.push(name);
        SharedMemory.unlink(name);
      } catch (e) {
        if (!(e instanceof IpcError && e.code === "ENOENT")) throw e;
      }
    }
    check(left.length === 0, `left behind: ${left.join(", ")}`);
    return Promise.resolve(
      `all ${created.length} objects the tour made are gone (shm_open → ENOENT)`,
    );
  },
};

/** The shared memory part of the tour. */
export const shm: TourModule = {
  examples: [
    {
      file: "examples/shared_counter.ts",
      what:
        "a counter in shared memory under a robust Mutex that survives a SIGKILLed holder",
      run: "bun run examples/shared_counter.ts add 100",
    },
  ],
  stops: [crossing("deno", "bun"), crossing("bun", "deno"), leftovers],
  ops,
};
