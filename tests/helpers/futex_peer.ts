// Maps the shared memory named in argv, raises word[1], waits on word[0]
// with futex, and prints what it then holds and how its last wait ended
// ("ok": woken; "timed-out" would mean the wake-up never came). With
// "once", it waits a single time (up to 5 s) and prints how that wait ended.
import {
  cString,
  futexWaitSync,
  futexWake,
  libc,
  viewMemory,
} from "../../ffi/mod.ts";

const name = process.argv[2];
const fd = libc().shm_open(cString(name), 2, 0);
const p = libc().mmap(null, 4096, 3, 1, fd, 0);
const word = new Int32Array(viewMemory(p!, 4096), 0, 2);
Atomics.store(word, 1, 1);
futexWake(word, 1, 1);
if (process.argv[3] === "once") {
  console.log(futexWaitSync(word, 0, 0, 5_000));
} else {
  let last = "not-equal";
  while (Atomics.load(word, 0) === 0) last = futexWaitSync(word, 0, 0, 10_000);
  console.log(`woke ${Atomics.load(word, 0)} ${last}`);
}
libc().munmap(p, 4096);
libc().close(fd);
