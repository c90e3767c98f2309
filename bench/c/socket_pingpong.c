// C baseline for the ipckit socket benchmark: two fork()ed processes over
// one socket with blocking read/write (send/recv for datagrams), the limit
// the JavaScript bindings are measured against.
//
//   socket_pingpong latency <transport> <iterations> <bytes>   p50/p99 in µs
//   socket_pingpong throughput <transport> <batches> <bytes>   GB/s (1e9 B/s)
//
// Transports: unix-stream, unix-seqpacket, unix-dgram (socketpair(2)), tcp
// (127.0.0.1, a listener on port 0, TCP_NODELAY), udp (two sockets on
// 127.0.0.1 connected to each other).
//
// Throughput (stream transports) writes BATCH_BYTES in <bytes> writes; the
// sink acknowledges each batch with one byte, and the median batch time is
// reported, as the JS side measures it. Prints one JSON object.
#include "_common.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define WARMUP 2000
#define BATCH_BYTES (8 << 20)

static void tcp_pair(int sv[2]) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) die("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(listener, 1) < 0) die("listen");
  socklen_t len = sizeof addr;
  if (getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
    die("getsockname");
  sv[0] = socket(AF_INET, SOCK_STREAM, 0);
  if (sv[0] < 0) die("socket");
  if (connect(sv[0], (struct sockaddr *)&addr, sizeof addr) < 0)
    die("connect");
  sv[1] = accept(listener, NULL, NULL);
  if (sv[1] < 0) die("accept");
  close(listener);
  int one = 1;
  setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void udp_pair(int sv[2]) {
  struct sockaddr_in addr[2];
  for (int i = 0; i < 2; i++) {
    sv[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (sv[i] < 0) die("socket");
    addr[i] = (struct sockaddr_in){.sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(sv[i], (struct sockaddr *)&addr[i], sizeof addr[i]) < 0)
      die("bind");
    socklen_t len = sizeof addr[i];
    if (getsockname(sv[i], (struct sockaddr *)&addr[i], &len) < 0)
      die("getsockname");
  }
  for (int i = 0; i < 2; i++)
    if (connect(sv[i], (struct sockaddr *)&addr[1 - i], sizeof addr[0]) < 0)
      die("connect");
}

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

// Reads exactly len bytes (stream) or one message (others); 0 at EOF.
static ssize_t xread(int fd, char *buf, size_t len, int stream) {
  size_t got = 0;
  do {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (n == 0) return 0;
    got += n;
  } while (stream && got < len);
  return got;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr,
            "usage: %s latency|throughput unix-stream|unix-seqpacket|"
            "unix-dgram|tcp|udp <count> <bytes>\n",
            argv[0]);
    return 2;
  }
  int latency = strcmp(argv[1], "latency") == 0;
  const char *transport = argv[2];
  long count = atol(argv[3]);
  long bytes = atol(argv[4]);
  if (count <= 0 || bytes <= 0) return 2;

  int sv[2];
  int stream = 0;
  if (strcmp(transport, "unix-stream") == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
    stream = 1;
  } else if (strcmp(transport, "unix-seqpacket") == 0) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) die("socketpair");
  } else if (strcmp(transport, "unix-dgram") == 0) {
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) die("socketpair");
  } else if (strcmp(transport, "tcp") == 0) {
    tcp_pair(sv);
    stream = 1;
  } else if (strcmp(transport, "udp") == 0) {
    udp_pair(sv);
  } else {
    fprintf(stderr, "unknown transport %s\n", transport);
    return 2;
  }
  if (!latency && !stream) {
    fprintf(stderr, "throughput is measured on stream transports only\n");
    return 2;
  }

  char *buf = calloc(1, bytes);
  if (!buf) die("calloc");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(sv[0]);
    int fd = sv[1];
    if (latency) {
      // Echo every message; EOF (or an empty datagram) means stop.
      for (;;) {
        ssize_t n = stream ? read(fd, buf, bytes) : recv(fd, buf, bytes, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(0);
        xwrite(fd, buf, n);
      }
    }
    // Sink: acknowledge every BATCH_BYTES with one byte.
    long got = 0;
    for (;;) {
      ssize_t n = read(fd, buf, bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(0);
      got += n;
      while (got >= BATCH_BYTES) {
        got -= BATCH_BYTES;
        xwrite(fd, "k", 1);
      }
    }
  }
  close(sv[1]);
  int fd = sv[0];

  double *samples = malloc(sizeof(double) * count);
  if (!samples) die("malloc");
  memset(buf, 0x5a, bytes);
  if (latency) {
    for (long i = 0; i < WARMUP + count; i++) {
      double t0 = now_us();
      xwrite(fd, buf, bytes);
      if (xread(fd, buf, bytes, stream) <= 0) die("echo ended");
      if (i >= WARMUP) samples[i - WARMUP] = now_us() - t0;
    }
    print_latency(samples, count);
  } else {
    char ack;
    for (long i = 0; i < 3 + count; i++) {
      double t0 = now_us();
      for (long sent = 0; sent < BATCH_BYTES; sent += bytes) {
        long n = BATCH_BYTES - sent < bytes ? BATCH_BYTES - sent : bytes;
        xwrite(fd, buf, n);
      }
      if (xread(fd, &ack, 1, 1) <= 0) die("sink ended");
      if (i >= 3) samples[i - 3] = now_us() - t0;
    }
    qsort(samples, count, sizeof(double), cmp_double);
    double p50 = percentile(samples, count, 0.5);
    printf("{\"gbps\":%.4f,\"batches\":%ld,\"batch\":%d}\n",
           BATCH_BYTES / (p50 * 1e3), count, BATCH_BYTES);
  }
  // Stop the child: an empty datagram, or EOF on a connection.
  if (!stream) send(fd, buf, 0, 0);
  shutdown(fd, SHUT_WR);
  close(fd);
  waitpid(child, NULL, 0);
  return 0;
}
