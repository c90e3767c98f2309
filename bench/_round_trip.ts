// The measuring end the ping-pong clients share (futex_pingpong.ts,
// sem_pingpong.ts): tinybench over one round trip, one JSON line out.
import { Bench } from "tinybench";

/**
 * Runs `roundTrip` 200 times untimed (proving the peer is up and warming
 * both ends), then measures it with tinybench for `time` ms and prints
 * `{"p50","p99","samples"}` in µs as one JSON line.
 */
export async function printRoundTrips(
  roundTrip: () => void | Promise<void>,
  async: boolean,
  time: number,
): Promise<void> {
  for (let i = 0; i < 200; i++) await roundTrip();
  const bench = new Bench({ time, warmupTime: 300, throws: true });
  bench.add("round trip", roundTrip, { async });
  await bench.run();
  const result = bench.tasks[0].result;
  if (!("latency" in result)) throw new Error(`Benchmark ${result.state}`);
  const { p50, p99, samplesCount } = result.latency;
  console.log(
    JSON.stringify({ p50: p50 * 1e3, p99: p99 * 1e3, samples: samplesCount }),
  );
}
