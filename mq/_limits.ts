// The system limits that shape POSIX message queues, read from
// /proc/sys/fs/mqueue (mq_overview(7)) through libc, so Deno needs only
// --allow-ffi, and advice for each mq_open failure.
import { readKernelNumber } from "../ffi/mod.ts";

// Limits even root cannot exceed (ipc/mqueue.c: HARD_MSGMAX, HARD_MSGSIZEMAX).
const HARD_MSGMAX = 65536;
const HARD_MSGSIZEMAX = 16 * 1024 * 1024;

/** The limits in /proc/sys/fs/mqueue, or undefined where unreadable. */
export interface QueueLimits {
  msgMax?: number | undefined;
  msgsizeMax?: number | undefined;
  msgDefault?: number | undefined;
  msgsizeDefault?: number | undefined;
  queuesMax?: number | undefined;
}

function readLimit(name: string): number | undefined {
  return readKernelNumber(`/proc/sys/fs/mqueue/${name}`);
}

/** Reads every limit (each one a small file). */
export function readQueueLimits(): QueueLimits {
  return {
    msgMax: readLimit("msg_max"),
    msgsizeMax: readLimit("msgsize_max"),
    msgDefault: readLimit("msg_default"),
    msgsizeDefault: readLimit("msgsize_default"),
    queuesMax: readLimit("queues_max"),
  };
}

/** Explains which limit an mq_open failure hit and how to raise it. */
export function openFailureHint(
  code: string,
  create: boolean,
  maxMessages: number | undefined,
  messageSize: number | undefined,
): string | undefined {
  switch (code) {
    case "ENOENT":
      return create
        ? undefined
        : "The queue does not exist; pass { create: true } to create it";
    case "EEXIST":
      return "The queue already exists and { exclusive: true } was given";
    case "EACCES":
      return "The queue's mode does not allow this user the requested access";
    case "EINVAL": {
      if (!create) return undefined;
      const limits = readQueueLimits();
      const parts: string[] = [];
      if (maxMessages !== undefined && maxMessages > HARD_MSGMAX) {
        parts.push(
          `maxMessages ${maxMessages} exceeds the kernel's hard limit (${HARD_MSGMAX})`,
        );
      } else if (messageSize !== undefined && messageSize > HARD_MSGSIZEMAX) {
        parts.push(
          `messageSize ${messageSize} exceeds the kernel's hard limit (${HARD_MSGSIZEMAX})`,
        );
      }
      if (
        parts.length === 0 && maxMessages !== undefined &&
        limits.msgMax !== undefined && maxMessages > limits.msgMax
      ) {
        parts.push(
          `maxMessages ${maxMessages} exceeds /proc/sys/fs/mqueue/msg_max (${limits.msgMax}); ` +
            `raise it with "sysctl fs.mqueue.msg_max=${maxMessages}" or ask for fewer`,
        );
      }
      if (
        parts.length === 0 && messageSize !== undefined &&
        limits.msgsizeMax !== undefined &&
        messageSize > limits.msgsizeMax
      ) {
        parts.push(
          `messageSize ${messageSize} exceeds /proc/sys/fs/mqueue/msgsize_max (${limits.msgsizeMax}); ` +
            `raise it with "sysctl fs.mqueue.msgsize_max=${messageSize}" or send smaller messages`,
        );
      }
      return parts.length > 0
        ? parts.join("; ")
        : "maxMessages and messageSize must be positive and within the hard limits (65536 messages, 16 MiB)";
    }
    case "EMFILE":
      return "The process ran out of descriptors (RLIMIT_NOFILE) or this user's queues would exceed " +
        "RLIMIT_MSGQUEUE bytes (see `ulimit -q`); close queues, ask for fewer/smaller messages, or raise the limit";
    case "ENFILE":
      return "The system-wide limit on open files was reached (/proc/sys/fs/file-max)";
    case "ENOSPC": {
      const max = readQueueLimits().queuesMax;
      return `The system-wide limit on queues was reached (/proc/sys/fs/mqueue/queues_max = ${max}); ` +
        `unlink unused queues or raise it with "sysctl fs.mqueue.queues_max=N"`;
    }
    case "ENOMEM":
      return "Not enough memory for the queue; ask for fewer or smaller messages";
    case "ENAMETOOLONG":
      return "The name is longer than NAME_MAX (255 bytes)";
  }
  return undefined;
}
