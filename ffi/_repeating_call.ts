// The life cycle of a Deno nonblocking FFI call that waits for events (the
// reactor's epoll_wait, the futex table's futex_waitv): made again after
// each return while something waits, and made to return (`interrupt`) a
// little after the last wait ends, so an idle process can exit.

/** Keeps a call running while there is something to wait for. */
export interface Keeper {
  ref(): void;
  unref(): void;
}

/** How long an idle call stays in flight before it is interrupted. */
const IDLE_MS = 5;

/**
 * `call` makes one call and resolves when it returns (having handled what
 * it returned), or returns `undefined` when there is nothing to call;
 * `interrupt` makes an in-flight call return.
 */
export function repeatingCall(
  call: () => Promise<void> | undefined,
  interrupt: () => void,
): Keeper {
  let wanted = false;
  let inFlight = false;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const loop = () => {
    const running = call();
    if (running === undefined) return;
    inFlight = true;
    running.then(() => {
      inFlight = false;
      if (wanted) loop();
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
