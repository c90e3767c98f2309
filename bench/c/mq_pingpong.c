// C baseline for the ipckit mq benchmark: two fork()ed processes over POSIX
// message queues with blocking mq_send/mq_receive, the physical limit the
// JavaScript binding is measured against.
//
//   mq_pingpong latency <iterations> <bytes>     round trips; p50/p99 in µs
//   mq_pingpong throughput <batches> <bytes>     one way; GB/s (1e9 B/s)
//
// Throughput sends batches of BATCH messages, each acknowledged by the sink,
// and reports the median batch time as GB/s: the JS side measures the same
// batch the same way.
//
// Prints one JSON object. The queues are unlinked as soon as both processes
// hold them, so nothing is left behind even if either side crashes.
#include "_common.h"
#include <mqueue.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#define WARMUP 2000
#define BATCH 1000

static mqd_t open_queue(const char *name, long msgsize) {
  struct mq_attr attr = {.mq_maxmsg = 10, .mq_msgsize = msgsize};
  mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
  if (q == (mqd_t)-1) die("mq_open");
  return q;
}

static void xsend(mqd_t q, const char *buf, size_t len) {
  while (mq_send(q, buf, len, 0) == -1)
    if (errno != EINTR) die("mq_send");
}

static ssize_t xreceive(mqd_t q, char *buf, size_t cap) {
  ssize_t n;
  while ((n = mq_receive(q, buf, cap, NULL)) == -1)
    if (errno != EINTR) die("mq_receive");
  return n;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s latency|throughput <count> <bytes>\n", argv[0]);
    return 2;
  }
  int latency = strcmp(argv[1], "latency") == 0;
  long count = atol(argv[2]);
  long bytes = atol(argv[3]);
  if (count <= 0 || bytes <= 0) return 2;

  char req_name[64], rep_name[64];
  snprintf(req_name, sizeof req_name, "/ipckit_bench_c_req_%d", getpid());
  snprintf(rep_name, sizeof rep_name, "/ipckit_bench_c_rep_%d", getpid());
  mqd_t req = open_queue(req_name, bytes);
  mqd_t rep = open_queue(rep_name, bytes);
  // fork() shares the open descriptions: the names are no longer needed.
  mq_unlink(req_name);
  mq_unlink(rep_name);

  char *buf = calloc(1, bytes);
  if (!buf) die("calloc");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    // Echo every request, or (throughput) acknowledge every BATCH messages;
    // an empty message means stop.
    for (long got = 1;; got++) {
      ssize_t n = xreceive(req, buf, bytes);
      if (n == 0) _exit(0);
      if (latency) xsend(rep, buf, n);
      else if (got % BATCH == 0) xsend(rep, buf, 1);
    }
  }

  double *samples = malloc(sizeof(double) * count);
  if (!samples) die("malloc");
  memset(buf, 0x5a, bytes);
  long warmup = latency ? WARMUP : 10;
  for (long i = 0; i < warmup + count; i++) {
    double t0 = now_us();
    if (latency) {
      xsend(req, buf, bytes);
    } else {
      for (long m = 0; m < BATCH; m++) xsend(req, buf, bytes);
    }
    xreceive(rep, buf, bytes);
    if (i >= warmup) samples[i - warmup] = now_us() - t0;
  }
  xsend(req, buf, 0);
  if (latency) {
    print_latency(samples, count);
  } else {
    qsort(samples, count, sizeof(double), cmp_double);
    double p50 = percentile(samples, count, 0.50);
    printf("{\"gbps\":%.3f,\"batches\":%ld,\"batch\":%d,\"bytes\":%ld}\n",
           (double)BATCH * bytes / (p50 * 1e3), count, BATCH, bytes);
  }
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");
  return 0;
}
