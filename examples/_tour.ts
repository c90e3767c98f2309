// What the tour and its peers share: the shape of a stop, of a peer
// operation, and of the peer handles stops use.

/** A runtime a peer process runs under. */
export type Runtime = "deno" | "bun";

/** The runtime running this file. */
export const RUNTIME: Runtime = "Bun" in globalThis ? "bun" : "deno";

/** A live peer process, driven over JSON lines on its stdin and stdout. */
export interface Peer {
  /** `"deno"` or `"bun"`. */
  readonly runtime: Runtime;
  /** The peer's process id. */
  readonly pid: number;
  /**
   * Runs an operation (a key of some module's `ops`) in the peer and
   * resolves with its result; rejects with the peer's error, or after
   * `timeout` ms.
   */
  call<T = unknown>(op: string, args?: unknown, timeout?: number): Promise<T>;
}

/** What a stop may use. */
export interface TourContext {
  /** The peer running under `runtime`. */
  peer(runtime: Runtime): Peer;
  /** Registers clean-up that runs when the tour ends, even after a failure. */
  defer(cleanup: () => void | Promise<void>): void;
}

/** One row of the tour: a check across real processes. */
export interface Stop {
  /** Short name, `module/what`, such as `"mq/priority"`. */
  readonly name: string;
  /** Who sends (a runtime, or `"-"`). */
  readonly from: string;
  /** Who receives (a runtime, or `"-"`). */
  readonly to: string;
  /** What is checked, for the table. */
  readonly what: string;
  /**
   * Runs the check; throws when it fails. A returned string replaces `what`
   * in the table (to show what was measured).
   */
  run(context: TourContext): Promise<string | void>;
}

/** An operation a peer can run: JSON-shaped arguments in, JSON result out. */
export type PeerOp = (args: never) => Promise<unknown>;

/** A program in examples/ the tour points to, to learn the API from. */
export interface TourExample {
  /** Its path from the repository root, such as `"examples/job_queue.ts"`. */
  readonly file: string;
  /** What it shows, in a line. */
  readonly what: string;
  /** How to start it, such as `"bun run examples/job_queue.ts worker"`. */
  readonly run?: string;
}

/** A module's part of the tour: its stops and the peer operations they use. */
export interface TourModule {
  /** The stops, run in order. */
  readonly stops: readonly Stop[];
  /** Operations peers can run, by name (prefix them with the module). */
  readonly ops: Readonly<Record<string, PeerOp>>;
  /**
   * Example programs that show the module in use; the tour ends by listing
   * them, so a reader goes from "it works" to code to copy.
   */
  readonly examples?: readonly TourExample[];
}

/** Throws with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}
