// The prefix of every object name a test run makes, shared by the peer
// helpers and the sweep's runner (which must not load node:test).
import process from "node:process";

/**
 * `IPCKIT_TEST_PREFIX` when set (`npm test` sets `ipckit_test_<pid>_<random>`,
 * so its leak check can tell its own objects from another job's), else
 * `ipckit_test`.
 */
export const RUN_PREFIX: string = (() => {
  const prefix = process.env.IPCKIT_TEST_PREFIX ?? "ipckit_test";
  if (!/^ipckit_test\w*$/.test(prefix) || prefix.length > 64) {
    throw new Error(
      `IPCKIT_TEST_PREFIX must match ipckit_test\\w* (64 characters at most), got ${
        JSON.stringify(prefix)
      }`,
    );
  }
  return prefix;
})();
