// Reports how asynchronous futex waits work in this process, and whether
// ten of them wake (or how they fail).
import { futexWait, futexWaitMethod, futexWake } from "../../ffi/mod.ts";

let method: string;
try {
  method = futexWaitMethod();
} catch (error) {
  method = `refused ${(error as { code?: string }).code}`;
}
const words = new Int32Array(new SharedArrayBuffer(40));
const start = performance.now();
setTimeout(() => {
  for (let i = 0; i < 10; i++) {
    Atomics.store(words, i, 1);
    futexWake(words, i);
  }
}, 30);
const outcomes = await Promise.all(
  Array.from({ length: 10 }, async (_, i) => {
    try {
      while (Atomics.load(words, i) === 0) {
        await futexWait(words, i, 0, { timeout: 5000 });
      }
      return "woke";
    } catch (error) {
      return `rejected ${(error as { code?: string }).code}`;
    }
  }),
);
console.log(JSON.stringify({
  method,
  outcomes: [...new Set(outcomes)],
  ms: Math.round(performance.now() - start),
}));
