// A signal a process sends itself is handled before kill() returns, on the
// sending thread: its record is in the pipe at once. sendSignal() calls this
// hook then, so signals() reads it without waiting for a wake-up (one that
// a process with nothing else pending might not live to see).
let hook: (() => void) | undefined;

/** Sets what to run after a signal to this process (signals.ts). */
export function onSelfSignal(run: () => void): void {
  hook = run;
}

/** Runs the hook: sendSignal() just signalled this process. */
export function selfSignalled(): void {
  hook?.();
}
