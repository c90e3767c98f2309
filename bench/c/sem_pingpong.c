// C baseline for the sem suite: two fork()ed processes play ping-pong over
// two named POSIX semaphores (sem_open), blocking in sem_wait and waking the
// other with sem_post, as bench/sem_pingpong.ts does from JavaScript.
//
//   sem_pingpong <iterations> <spin_us>
//
// With spin_us > 0 each wait first retries sem_trywait with sched_yield()
// between tries for up to spin_us, as ipckit's Semaphore.wait({ spin })
// does, then blocks in sem_wait. Prints p50/p99 µs. The names are unlinked
// as soon as both are open (fork() keeps them).
#include "_common.h"
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>

#define WARMUP 2000

static sem_t *open_sem(const char *tag) {
  char name[64];
  snprintf(name, sizeof name, "/ipckit_bench_c_%d_%s", getpid(), tag);
  sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
  if (s == SEM_FAILED) die("sem_open");
  sem_unlink(name);
  return s;
}

static void wait_on(sem_t *s, double spin_us) {
  if (spin_us > 0) {
    if (sem_trywait(s) == 0) return;
    double end = now_us() + spin_us;
    while (now_us() < end) {
      sched_yield();
      if (sem_trywait(s) == 0) return;
    }
  }
  while (sem_wait(s) == -1)
    if (errno != EINTR) die("sem_wait");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <iterations> <spin_us>\n", argv[0]);
    return 2;
  }
  long count = atol(argv[1]);
  double spin = atof(argv[2]);
  if (count <= 0) return 2;
  sem_t *ping = open_sem("ping");
  sem_t *pong = open_sem("pong");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (;;) {
      wait_on(ping, spin);
      sem_post(pong);
    }
  }

  double *samples = malloc(sizeof(double) * count);
  if (!samples) die("malloc");
  for (long i = 0; i < WARMUP + count; i++) {
    double t0 = now_us();
    sem_post(ping);
    wait_on(pong, spin);
    if (i >= WARMUP) samples[i - WARMUP] = now_us() - t0;
  }
  kill(child, SIGKILL);
  print_latency(samples, count);
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");
  return 0;
}
