// The life cycle of a Deno nonblocking FFI call that waits for events (the
// reactor's epoll_wait, the futex table's futex_waitv): made again after
// each return while something waits, and made to return (`interrupt`) a
// little after the last wait ends, so an idle process can exit.
import type { Keeper } from "./_types.ts";

/** How long an idle call stays in flight before it is interrupted. */
const IDLE_MS = 5;

/**
 * `call` makes one call and resolves when it returns (having handled what
 * it returned), or returns `undefined` when there is nothing to call;
 * `interrupt` makes an in-flight call return. A call or handler that
 * throws is reported to `onError` and the loop goes on: one bad turn must
 * not stop every later wait.
 */
export function repeatingCall(
  call: () => Promise<void> | undefined,
  interrupt: () => void,
  onError: (error: unknown) => void,
): Keeper {
  let wanted = false;
  let inFlight = false;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const next = () => {
    inFlight = false;
    if (wanted) loop();
  };
  const loop = () => {
    let running: Promise<void> | undefined;
    try {
      running = call();
    } catch (error) {
      onError(error);
      // Try again a little later (not at once: a turn that always throws
      // must not spin).
      inFlight = true;
      setTimeout(next, 1);
      return;
    }
    if (running === undefined) return;
    inFlight = true;
    running.then(next, (error) => {
      onError(error);
      next();
    });
  };
  return {
    ref() {
      wanted = true;
      if (idle !== undefined) clearTimeout(idle);
      idle = undefined;
      if (!inFlight) loop();
    },
    unref() {
      wanted = false;
      // Stop a little later: a loop of waits should not pay a stop and a
      // restart each.
      idle ??= setTimeout(() => {
        idle = undefined;
        if (!wanted && inFlight) interrupt();
      }, IDLE_MS);
    },
  };
}
