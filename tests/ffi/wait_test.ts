import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkSpin,
  checkTimeout,
  DescriptorHandle,
  IpcError,
  libc,
  parkOnDescriptor,
  parkWithBackoff,
  pendingWaits,
  startTimer,
  toBytes,
  trySys,
  waitUntil,
  waitUntilSync,
} from "../../ffi/mod.ts";

/** An eventfd as a handle, waited on through the one wait path. */
class Counter extends DescriptorHandle {
  readonly #buffer = new BigUint64Array(1);
  constructor() {
    super(libc().eventfd(0, 0x80800), "eventfd");
  }
  protected closeDescriptor(fd: number): void {
    libc().close(fd);
  }
  signal(): void {
    libc().write(this.fd, new BigUint64Array([1n]), 8);
  }
  take(options: { timeout?: number; signal?: AbortSignal } = {}) {
    return waitUntil({
      attempt: () =>
        trySys(() => libc().read(this.descriptor("read"), this.#buffer, 8), {
          syscall: "read",
        }),
      park: parkOnDescriptor(() => this.descriptor("read"), "read"),
      check: () => this.checkOpen("read"),
      closing: this.closing,
      what: "counter",
    }, options);
  }
}

test("waitUntil() resolves when the attempt succeeds after a park", async () => {
  using c = new Counter();
  setTimeout(() => c.signal(), 10);
  assert.equal(await c.take({ timeout: 1000 }), 8);
  assert.equal(pendingWaits(), 0);
});

test("waitUntil() rejects with EBADF when the handle closes while parked", async () => {
  const c = new Counter();
  const taking = c.take();
  setTimeout(() => c.close(), 10);
  await assert.rejects(
    taking,
    (e) =>
      e instanceof IpcError && e.code === "EBADF" && /closed/.test(e.message),
  );
  assert.equal(pendingWaits(), 0);
  c.close(); // twice: a no-op
  assert.throws(() => c.fd, (e) => e instanceof IpcError && e.code === "EBADF");
});

test("waitUntil() times out with one message, and aborts with the signal's reason", async () => {
  using c = new Counter();
  await assert.rejects(
    c.take({ timeout: 20 }),
    (e) =>
      e instanceof DOMException && e.name === "TimeoutError" &&
      e.message === "Timed out after 20 ms waiting for counter",
  );
  const controller = new AbortController();
  const taking = c.take({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(taking, { message: "stop" });
  assert.equal(pendingWaits(), 0);
});

test("a timeout above 2^31-1 ms does not expire at once", async () => {
  using c = new Counter();
  const controller = new AbortController();
  const taking = c.take({ timeout: 2 ** 31, signal: controller.signal });
  let settled = false;
  taking.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(settled, false);
  controller.abort(new Error("enough"));
  await assert.rejects(taking, { message: "enough" });
  let fired = false;
  const cancel = startTimer(30 * 24 * 3600 * 1000, () => fired = true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  cancel();
  assert.equal(fired, false);
});

test("timeouts and spins are validated, never coerced", () => {
  for (const bad of ["100", null, true, [], {}]) {
    assert.throws(() => checkTimeout(bad), TypeError, String(bad));
    assert.throws(() => checkSpin(bad, 0), TypeError, String(bad));
  }
  for (const bad of [NaN, -1]) {
    assert.throws(() => checkTimeout(bad), RangeError);
  }
  for (const bad of [NaN, -1, Infinity, 2 ** 53]) {
    assert.throws(() => checkSpin(bad, 0), RangeError);
  }
  assert.equal(checkTimeout(Infinity), undefined);
  assert.equal(checkTimeout(0), 0);
});

test("waitUntilSync() blocks, backs off, and times out", () => {
  let tries = 0;
  assert.equal(
    waitUntilSync({
      attempt: () => ++tries === 3 ? "done" : undefined,
      park: () => {},
      what: "three tries",
    }),
    "done",
  );
  const started = performance.now();
  assert.throws(
    () =>
      waitUntilSync({
        attempt: () => undefined,
        park: (left) => {
          assert.ok(left > 0);
        },
        what: "nothing",
      }, { timeout: 15 }),
    (e) => e instanceof DOMException && e.name === "TimeoutError",
  );
  assert.ok(performance.now() - started >= 15);
});

test("parkWithBackoff() pauses grow from 0.1 to 5 ms", async () => {
  const park = parkWithBackoff();
  const signal = new AbortController().signal;
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    await park(1000, signal);
    times.push(performance.now() - t);
  }
  assert.ok(times.at(-1)! >= 4, `last pause ${times.at(-1)} ms`);
});

test("toBytes() sends every byte of any view, and refuses what is not bytes", () => {
  assert.equal(toBytes(new Int32Array([1, 2]), "data").length, 8);
  assert.equal(toBytes(new Float64Array(1), "data").length, 8);
  const big = new Uint8Array([9, 1, 2, 3, 9]);
  assert.deepEqual([...toBytes(new DataView(big.buffer, 1, 3), "data")], [
    1,
    2,
    3,
  ]);
  assert.equal(toBytes(new ArrayBuffer(5), "data").length, 5);
  for (const bad of [5, {}, null, undefined, [1, 2]]) {
    assert.throws(
      () => toBytes(bad, "data"),
      (e) => e instanceof TypeError && /^data must be/.test(e.message),
    );
  }
});
