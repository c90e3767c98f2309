// A counter in shared memory under a robust Mutex, that survives a holder
// killed mid-update.
//
//   bun run examples/shared_counter.ts crash                  # dies holding the lock
//   deno run --allow-ffi examples/shared_counter.ts add 500 &  # these two take turns,
//   bun run examples/shared_counter.ts add 500                 # and one repairs
//   bun run examples/shared_counter.ts show                    # count: 1000
//   bun run examples/shared_counter.ts remove
//
// The memory (POSIX shared memory "/ipckit_counter", or the name given as
// the last argument) holds the mutex in bytes 0-7, then two numbers: `count`
// and `done`, the count as of the last update that finished. An update writes
// `count`, then `done`. A process that dies in between (SIGKILL, a crash, the
// OOM killer) leaves them different, and leaves the mutex locked: with an
// ordinary lock every other process would now wait forever. The next
// `lock()` notices that the holder is dead, takes the lock over and reports
// it with `guard.ownerDied`; the program then rolls `count` back to `done`.
import process from "node:process";
import { Mutex } from "../sem/mod.ts";
import { SharedMemory } from "../shm/mod.ts";

const [command, ...rest] = process.argv.slice(2);

function open(name: string) {
  const shm = SharedMemory.open(name, { create: true, size: 4096 });
  // Zero-filled new memory is an unlocked mutex and a count of 0.
  const mutex = Mutex.at(shm.buffer, 0);
  const data = shm.view(Int32Array, Mutex.byteLength, 2); // [count, done]
  return {
    mutex,
    data,
    [Symbol.dispose]() {
      mutex.close();
      shm.close(); // closing is not removing: `remove` does that
    },
  };
}

/**
 * Takes the lock; if its last holder died, first rolls back what it left
 * half done. Returns the guard (it unlocks when disposed) and the count.
 */
async function lock(counter: ReturnType<typeof open>) {
  const guard = await counter.mutex.lock({ timeout: 10_000 });
  const [count = 0, done = 0] = counter.data;
  if (guard.ownerDied && count !== done) {
    // The last holder died between its two writes: undo its half update.
    console.log(`repaired: count ${count} rolled back to ${done}`);
    counter.data[0] = done;
  }
  return { guard, count: done, repaired: guard.ownerDied };
}

if (command === "add") {
  const [times = "1", name = "/ipckit_counter"] = rest;
  using counter = open(name);
  let repaired = 0;
  for (let i = 0; i < Number(times); i++) {
    const turn = await lock(counter);
    using _guard = turn.guard; // unlocks at the end of this turn
    if (turn.repaired) repaired++;
    counter.data[0] = turn.count + 1; // the update...
    counter.data[1] = turn.count + 1; // ...and the mark that it finished
  }
  console.log(
    `added ${times} (${repaired} repair${repaired === 1 ? "" : "s"})`,
  );
} else if (command === "crash") {
  const [name = "/ipckit_counter"] = rest;
  using counter = open(name);
  const guard = counter.mutex.lockSync({ timeout: 10_000 });
  counter.data[0] = 999_999; // half an update...
  console.log(`crashing while holding the lock (held: ${guard.held})`);
  process.kill(process.pid, "SIGKILL"); // ...and no chance to unlock
} else if (command === "show") {
  const [name = "/ipckit_counter"] = rest;
  using counter = open(name);
  const turn = await lock(counter);
  using _guard = turn.guard;
  console.log(`count: ${turn.count}`);
} else if (command === "remove") {
  const [name = "/ipckit_counter"] = rest;
  SharedMemory.unlink(name);
  console.log(`removed ${name}`);
} else {
  console.error(
    "usage: shared_counter.ts add [TIMES] [NAME] | crash [NAME] | show [NAME] | remove [NAME]",
  );
  process.exit(2);
}
