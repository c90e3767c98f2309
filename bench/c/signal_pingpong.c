// C baseline for the signal suite: two fork()ed processes play ping-pong
// with SIGUSR2 queued by sigqueue(3), a value each way (as
// bench/signal_pingpong.ts does), each waiting in sigwaitinfo(2) with the
// signal blocked: the fastest way C has to take a signal.
//
//   signal_pingpong <iterations>
//
// Prints p50/p99 µs. The child replies to the sender it learns from
// si_pid, with the value it got.
#include "_common.h"
#include <signal.h>
#include <sys/wait.h>

#define WARMUP 2000

static int take(const sigset_t *set, siginfo_t *info) {
  for (;;) {
    int s = sigwaitinfo(set, info);
    if (s >= 0) return s;
    if (errno != EINTR) die("sigwaitinfo");
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <iterations>\n", argv[0]);
    return 2;
  }
  long count = atol(argv[1]);
  if (count <= 0) return 2;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) die("sigprocmask");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    siginfo_t info;
    for (;;) {
      take(&set, &info);
      if (sigqueue(info.si_pid, SIGUSR2, info.si_value) != 0) die("sigqueue");
    }
  }

  double *samples = malloc(sizeof(double) * count);
  if (!samples) die("malloc");
  siginfo_t info;
  for (long i = 0; i < WARMUP + count; i++) {
    double t0 = now_us();
    union sigval v = {.sival_int = (int)i};
    while (sigqueue(child, SIGUSR2, v) != 0) {
      if (errno != EAGAIN) die("sigqueue");
    }
    take(&set, &info);
    if (info.si_value.sival_int != (int)i) {
      fprintf(stderr, "sent %ld, got %d back\n", i, info.si_value.sival_int);
      return 1;
    }
    if (i >= WARMUP) samples[i - WARMUP] = now_us() - t0;
  }
  kill(child, SIGKILL);
  print_latency(samples, count);
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");
  return 0;
}
