// The entry points of mq/: MessageQueue and SysvMessageQueue, each on a
// queue that has messages and room (calls complete at once), and again on
// an empty and a full queue (calls wait: a valid timeout must time out, no
// limit must keep waiting, and closing must end the wait).
import * as mq from "../../mq/mod.ts";
import { MessageQueue, SysvMessageQueue } from "../../mq/mod.ts";
import type { Ctx } from "./_ctx.ts";
import {
  accessKind,
  changesKind,
  CLOSED,
  closers,
  creationOptions,
  firstOf,
  keyFromPathParams,
  keyKind,
  sysvIdStatics,
} from "./_common.ts";
import {
  booleanKind,
  intRange,
  type Kind,
  modeKind,
  numberKind,
  optionsKind,
  payloadKind,
  posixName,
  signalKind,
  spinKind,
  targetKind,
  timeoutKind,
  type Validity,
  withValidity,
} from "./_kinds.ts";
import type { Any, ClassSpec, Entry } from "./_spec.ts";

/** The module the sweep covers, and what it leaves out of the coverage check. */
export const MODULE = mq;
export const NOT_COVERED: Record<string, string> = {};

const MESSAGE_SIZE = 64;
const SYSV_MSGMAX = 8192;
/** How long a call on a waiting fixture may stay pending. */
const WAITING_BOUND = 50;
/** The base timeout of calls on a waiting fixture. */
const SHORT = 2;

const limitKind = (base: number): Kind =>
  numberKind(
    base,
    (n): Validity =>
      !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1
        ? "invalid"
        : n <= 10
        ? "valid"
        : "either",
    { optional: true },
  );

const priorityKind = numberKind(1, intRange(0, 32767), {
  optional: true,
  extra: [["32767", 32767], ["32768", 32768]],
});

/** `timeout` and `signal`: the options of an async wait. */
const waitFields = (timeout = 20): Record<string, Kind> => ({
  timeout: timeoutKind(timeout),
  signal: signalKind,
});

/**
 * The options of a blocking (`Sync`) wait; on a waiting fixture (`short`)
 * only bounded timeouts are tried, since no limit would block for good.
 */
function syncOptions(
  short: boolean,
  more: Record<string, Kind> = {},
): Kind {
  return short
    ? optionsKind({ ...more, timeout: timeoutKind(SHORT, false) }, {
      skip: ["undefined", "{}"],
    })
    : optionsKind({ ...more, timeout: timeoutKind(20) });
}

const closeQueue = (ctx: Ctx) => ctx.fx.q.close();

// --- MessageQueue ------------------------------------------------------------

function queue(messages: number) {
  return (ctx: Ctx): MessageQueue => {
    const name = ctx.name();
    const q = MessageQueue.open(name, {
      create: true,
      exclusive: true,
      maxMessages: 4,
      messageSize: MESSAGE_SIZE,
    });
    ctx.defer(() => {
      q.close();
      MessageQueue.unlink(name);
    });
    for (let i = 0; i < messages; i++) q.trySend(`m${i}`);
    return ctx.fx.q = q;
  };
}

function sendEntries(short: boolean): Entry[] {
  const t = short ? SHORT : 20;
  return [
    {
      name: "send",
      kind: "method",
      params: [
        ["data", payloadKind(MESSAGE_SIZE + 1)],
        ["options", optionsKind({ priority: priorityKind, ...waitFields(t) })],
      ],
    },
    {
      name: "sendSync",
      kind: "method",
      params: [
        ["data", payloadKind(MESSAGE_SIZE + 1)],
        ["options", syncOptions(short, { priority: priorityKind })],
      ],
    },
    {
      name: "trySend",
      kind: "method",
      params: [
        ["data", payloadKind(MESSAGE_SIZE + 1)],
        ["options", optionsKind({ priority: priorityKind })],
      ],
    },
  ];
}

function receiveEntries(short: boolean): Entry[] {
  const t = short ? SHORT : 20;
  return [
    {
      name: "receive",
      kind: "method",
      params: [["options", optionsKind(waitFields(t))]],
    },
    {
      name: "receiveSync",
      kind: "method",
      params: [["options", syncOptions(short)]],
    },
    { name: "tryReceive", kind: "method" },
    {
      name: "receiveInto",
      kind: "method",
      params: [
        ["buffer", targetKind(MESSAGE_SIZE, true)],
        ["options", optionsKind(waitFields(t))],
      ],
    },
    {
      name: "receiveIntoSync",
      kind: "method",
      params: [
        ["buffer", targetKind(MESSAGE_SIZE, true)],
        ["options", syncOptions(short)],
      ],
    },
    {
      name: "tryReceiveInto",
      kind: "method",
      params: [["buffer", targetKind(MESSAGE_SIZE, true)]],
    },
    {
      name: "waitForMessage",
      kind: "method",
      params: [["options", optionsKind(waitFields(t))]],
    },
    {
      name: "messages",
      kind: "method",
      params: [["options", optionsKind({ signal: signalKind })]],
      call: (q, args, ctx) => firstOf(q.messages(...args), ctx),
      // Iteration ends when the queue is closed: { done: true } is fine.
      states: { [CLOSED]: "either" },
    },
    {
      name: Symbol.asyncIterator,
      kind: "method",
      call: (q, _args, ctx) => firstOf(q[Symbol.asyncIterator](), ctx),
      states: { [CLOSED]: "either" },
    },
  ];
}

const openOptions = (create: boolean): Record<string, Kind> => ({
  ...(create
    ? { create: booleanKind(true), exclusive: booleanKind(undefined) }
    : {}),
  mode: modeKind(0o777),
  maxMessages: limitKind(4),
  messageSize: limitKind(64),
  access: accessKind(["read", "write", "read-write"]),
  spin: spinKind,
});

const posixQueue: ClassSpec = {
  label: "MessageQueue",
  exportName: "MessageQueue",
  target: MessageQueue,
  fixture: queue(2),
  states: { [CLOSED]: (q: Any) => q.close() },
  entries: [
    {
      name: "open",
      kind: "static",
      params: [
        ["name", posixName((ctx) => ctx.name())],
        ["options", optionsKind(openOptions(true))],
      ],
    },
    {
      name: "temporary",
      kind: "static",
      params: [["options", optionsKind(openOptions(false))]],
    },
    {
      name: "unlink",
      kind: "static",
      params: [["name", posixName((ctx) => ctx.name())]],
    },
    ...sendEntries(false),
    ...receiveEntries(false).map((e) => ({ ...e, kick: closeQueue })),
    { name: "fd", kind: "getter" },
    { name: "attributes", kind: "getter" },
    ...closers([CLOSED]),
  ],
};

const emptyQueue: ClassSpec = {
  label: "MessageQueue (empty)",
  exportName: "MessageQueue",
  target: MessageQueue,
  fixture: queue(0),
  bound: WAITING_BOUND,
  entries: receiveEntries(true).map((e) => ({ ...e, states: undefined })),
};

const fullQueue: ClassSpec = {
  label: "MessageQueue (full)",
  exportName: "MessageQueue",
  target: MessageQueue,
  fixture: queue(4),
  bound: WAITING_BOUND,
  entries: sendEntries(true),
};

// --- SysvMessageQueue --------------------------------------------------------

const REMOVED = "after remove()";

function sysvQueue(fill: "some" | "none" | "full") {
  return (ctx: Ctx): SysvMessageQueue => {
    const q = SysvMessageQueue.temporary();
    ctx.defer(() => q.close());
    if (fill === "some") {
      q.trySend(1, "m1");
      q.trySend(1, "m2");
    }
    // msgmnb (16384 bytes by default) holds two messages of msgmax bytes.
    while (fill === "full" && q.trySend(1, new Uint8Array(SYSV_MSGMAX))) {
      // fill it
    }
    return ctx.fx.q = q;
  };
}

const sendType = numberKind(
  1,
  (n) => Number.isSafeInteger(n) && n > 0 ? "valid" : "invalid",
  {
    extra: [["2**53-1", 2 ** 53 - 1]],
  },
);

const receiveType = numberKind(
  0,
  (n) => Number.isSafeInteger(n) ? "valid" : "invalid",
  {
    optional: true,
    // Valid types no message has: the receive times out.
    extra: [["2**53-1", 2 ** 53 - 1], ["-(2**53-1)", -(2 ** 53 - 1)]],
  },
);

// except: true is a valid value, refused with the default type 0.
const exceptKind = withValidity(booleanKind(undefined), "true", "either");

const selectFields = (): Record<string, Kind> => ({
  type: receiveType,
  except: exceptKind,
});

function sysvSendEntries(short: boolean): Entry[] {
  const t = short ? SHORT : 20;
  const data = payloadKind(SYSV_MSGMAX + 1);
  return [
    {
      name: "sendSync",
      kind: "method",
      params: [["type", sendType], ["data", data], [
        "options",
        syncOptions(short),
      ]],
    },
    {
      name: "send",
      kind: "method",
      params: [["type", sendType], ["data", data], [
        "options",
        optionsKind(waitFields(t)),
      ]],
    },
    {
      name: "trySend",
      kind: "method",
      params: [["type", sendType], ["data", data]],
    },
  ];
}

function sysvReceiveEntries(short: boolean): Entry[] {
  const t = short ? SHORT : 20;
  // Messages vary in size: a small buffer fails only when a larger one comes.
  const buffer = withValidity(
    targetKind(64, true),
    "Uint8Array(1) (too small)",
    "either",
  );
  return [
    {
      name: "receiveSync",
      kind: "method",
      params: [["options", syncOptions(short, selectFields())]],
    },
    {
      name: "receive",
      kind: "method",
      params: [[
        "options",
        optionsKind({ ...selectFields(), ...waitFields(t) }),
      ]],
    },
    {
      name: "tryReceive",
      kind: "method",
      params: [["options", optionsKind(selectFields())]],
    },
    {
      name: "receiveIntoSync",
      kind: "method",
      params: [["buffer", buffer], [
        "options",
        syncOptions(short, selectFields()),
      ]],
    },
    {
      name: "receiveInto",
      kind: "method",
      params: [["buffer", buffer], [
        "options",
        optionsKind({ ...selectFields(), ...waitFields(t) }),
      ]],
    },
    {
      name: "tryReceiveInto",
      kind: "method",
      params: [["buffer", buffer], ["options", optionsKind(selectFields())]],
    },
    {
      name: "messages",
      kind: "method",
      params: [[
        "options",
        optionsKind({ ...selectFields(), signal: signalKind }),
      ]],
      call: (q, args, ctx) => firstOf(q.messages(...args), ctx),
      states: { [CLOSED]: "either" },
    },
    {
      name: Symbol.asyncIterator,
      kind: "method",
      call: (q, _args, ctx) => firstOf(q[Symbol.asyncIterator](), ctx),
      states: { [CLOSED]: "either" },
    },
  ];
}

const sysvField = numberKind(
  undefined,
  (n) =>
    Number.isInteger(n) && n >= 0 && n <= 2 ** 32 - 1 ? "either" : "invalid",
  { optional: true },
);

const sysvQueueSpec: ClassSpec = {
  label: "SysvMessageQueue",
  exportName: "SysvMessageQueue",
  target: SysvMessageQueue,
  fixture: sysvQueue("some"),
  states: {
    [CLOSED]: (q: Any) => q.close(),
    [REMOVED]: (q: Any) => q.remove(),
  },
  entries: [
    {
      name: "open",
      kind: "static",
      params: [
        ["key", keyKind()],
        [
          "options",
          optionsKind({
            ...creationOptions(0o777),
            access: accessKind(["read", "write", "read-write"]),
          }),
        ],
      ],
    },
    {
      name: "private",
      kind: "static",
      params: [["options", optionsKind({ mode: modeKind(0o777) })]],
      dispose: (r: Any) => {
        try {
          r.remove();
        } finally {
          r.close();
        }
      },
    },
    {
      name: "temporary",
      kind: "static",
      params: [["options", optionsKind({ mode: modeKind(0o777) })]],
    },
    ...sysvIdStatics((ctx) => ctx.fx.q.id),
    { name: "keyFromPath", kind: "static", params: keyFromPathParams() },
    ...sysvSendEntries(false),
    // A valid type no message has waits: closing ends the iteration.
    ...sysvReceiveEntries(false).map((e) => ({ ...e, kick: closeQueue })),
    {
      name: "setAttributes",
      kind: "method",
      // undefined changes nothing, like {}.
      params: [[
        "changes",
        changesKind({
          maxBytes: sysvField,
          mode: modeKind(0o777),
          uid: sysvField,
          gid: sysvField,
        }),
      ]],
    },
    { name: "remove", kind: "method" },
    // The handle stays open after remove(): its id is still its id.
    { name: "id", kind: "getter", states: { [REMOVED]: "valid" } },
    { name: "attributes", kind: "getter" },
    ...closers([CLOSED, REMOVED]),
  ],
};

const emptySysvQueue: ClassSpec = {
  label: "SysvMessageQueue (empty)",
  exportName: "SysvMessageQueue",
  target: SysvMessageQueue,
  fixture: sysvQueue("none"),
  bound: WAITING_BOUND,
  entries: sysvReceiveEntries(true).map((e) => ({ ...e, states: undefined })),
};

const fullSysvQueue: ClassSpec = {
  label: "SysvMessageQueue (full)",
  exportName: "SysvMessageQueue",
  target: SysvMessageQueue,
  fixture: sysvQueue("full"),
  bound: WAITING_BOUND,
  entries: sysvSendEntries(true),
};

/** Every description, in the order the cases run. */
export const SPECS: readonly ClassSpec[] = [
  posixQueue,
  emptyQueue,
  fullQueue,
  sysvQueueSpec,
  emptySysvQueue,
  fullSysvQueue,
];

/** Makes every lazily opened resource (reactor, trampoline) before the cases. */
export async function warmUp(): Promise<void> {
  using q = MessageQueue.temporary({ maxMessages: 2, messageSize: 16 });
  await q.send("x", { timeout: 1000 });
  await q.receive({ timeout: 1000 });
  await q.receive({ timeout: 5 }).catch(() => {});
  using s = SysvMessageQueue.temporary();
  await s.send(1, "x", { timeout: 1000 });
  await s.receive({ timeout: 1000 });
}

/** A check that the process still works after every case. */
export async function canary(): Promise<void> {
  await warmUp();
}
