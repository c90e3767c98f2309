// C baseline for the ipckit pipe and FIFO benchmarks: two fork()ed processes
// joined by two pipes (or two FIFOs), blocking read/write, the physical limit
// the JavaScript binding is measured against.
//
//   pipe_pingpong latency <iterations> <bytes> [fifo-dir]
//       round trips of <bytes>; prints {"p50","p99","samples"} in µs
//   pipe_pingpong throughput <batches> <chunk> <batch-bytes> [fifo-dir]
//       one way, <chunk>-byte writes, one 1-byte ack per batch; prints
//       {"gbps"} from the median batch (1e9 B/s)
//
// With a fifo-dir, the two channels are FIFOs made there and removed as soon
// as both processes have them open.
#include "_common.h"
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define WARMUP 2000

static void xwrite(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    buf += n;
    len -= n;
  }
}

// Reads exactly len bytes (0 at EOF).
static ssize_t xread_full(int fd, char *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (n == 0) return 0;
    got += n;
  }
  return got;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr,
            "usage: %s latency <n> <bytes> [fifo-dir] | throughput <batches> "
            "<chunk> <batch-bytes> [fifo-dir]\n",
            argv[0]);
    return 2;
  }
  int latency = strcmp(argv[1], "latency") == 0;
  long count = atol(argv[2]);
  long bytes = atol(argv[3]);
  long batch_bytes = latency ? 0 : atol(argv[4]);
  const char *dir = argc > (latency ? 4 : 5) ? argv[latency ? 4 : 5] : NULL;
  if (count <= 0 || bytes <= 0 || (!latency && batch_bytes < bytes)) return 2;
  signal(SIGPIPE, SIG_IGN);

  int req[2], rep[2];
  char req_path[512], rep_path[512];
  if (dir) {
    snprintf(req_path, sizeof req_path, "%s/c_req_%d", dir, getpid());
    snprintf(rep_path, sizeof rep_path, "%s/c_rep_%d", dir, getpid());
    if (mkfifo(req_path, 0600) < 0 || mkfifo(rep_path, 0600) < 0)
      die("mkfifo");
  } else if (pipe2(req, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
    die("pipe2");
  }

  char *buf = calloc(1, bytes);
  if (!buf) die("calloc");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    int in, out;
    if (dir) {
      // Same order as the parent: no deadlock between blocking opens.
      if ((in = open(req_path, O_RDONLY)) < 0) die("open");
      if ((out = open(rep_path, O_WRONLY)) < 0) die("open");
    } else {
      close(req[1]);
      close(rep[0]);
      in = req[0];
      out = rep[1];
    }
    if (latency) {
      for (;;) {
        if (xread_full(in, buf, bytes) == 0) _exit(0);
        xwrite(out, buf, bytes);
      }
    }
    for (long got = 0;;) {
      ssize_t n = read(in, buf, bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(0);
      got += n;
      if (got >= batch_bytes) {
        got -= batch_bytes;
        xwrite(out, buf, 1);
      }
    }
  }
  int out, in;
  if (dir) {
    if ((out = open(req_path, O_WRONLY)) < 0) die("open");
    if ((in = open(rep_path, O_RDONLY)) < 0) die("open");
    unlink(req_path);
    unlink(rep_path);
  } else {
    close(req[0]);
    close(rep[1]);
    out = req[1];
    in = rep[0];
  }

  double *samples = malloc(sizeof(double) * count);
  if (!samples) die("malloc");
  memset(buf, 0x5a, bytes);
  if (latency) {
    for (long i = 0; i < WARMUP; i++) {
      xwrite(out, buf, bytes);
      xread_full(in, buf, bytes);
    }
    for (long i = 0; i < count; i++) {
      double t0 = now_us();
      xwrite(out, buf, bytes);
      xread_full(in, buf, bytes);
      samples[i] = now_us() - t0;
    }
    close(out);
    waitpid(child, NULL, 0);
    print_latency(samples, count);
    return 0;
  }
  char ack;
  for (long i = -3; i < count; i++) {
    double t0 = now_us();
    for (long sent = 0; sent < batch_bytes; sent += bytes) {
      xwrite(out, buf, bytes);
    }
    xread_full(in, &ack, 1);
    if (i >= 0) samples[i] = now_us() - t0;
  }
  close(out);
  waitpid(child, NULL, 0);
  qsort(samples, count, sizeof(double), cmp_double);
  double p50 = percentile(samples, count, 0.5);
  printf("{\"gbps\":%.3f,\"batches\":%ld}\n", batch_bytes / (p50 * 1e3), count);
  return 0;
}
