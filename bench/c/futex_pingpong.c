// C baseline for the shm suite: two fork()ed processes map one POSIX shared
// memory segment and take turns on a 32-bit word, waking each other with
// FUTEX_WAKE and sleeping in FUTEX_WAIT (process-shared, no PRIVATE flag),
// as bench/futex_pingpong.ts does from JavaScript.
//
//   futex_pingpong <iterations> <spin_us>
//
// word: 1 = the peer's turn, 0 = the client's turn, 2 = stop. With spin_us
// > 0 each side first polls the word for up to spin_us (reading the clock
// each time, like the JS side) before sleeping. Prints p50/p99 µs.
#include "_common.h"
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define WARMUP 2000

static void wake(int *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, 0, 0); }

// Waits while *w == value.
static void wait_while(int *w, int value, double spin_us) {
  if (spin_us > 0) {
    double end = now_us() + spin_us;
    while (__atomic_load_n(w, __ATOMIC_SEQ_CST) == value && now_us() < end) {
    }
  }
  while (__atomic_load_n(w, __ATOMIC_SEQ_CST) == value) {
    if (syscall(SYS_futex, w, FUTEX_WAIT, value, NULL, 0, 0) == -1 &&
        errno != EAGAIN && errno != EINTR)
      die("futex");
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <iterations> <spin_us>\n", argv[0]);
    return 2;
  }
  long count = atol(argv[1]);
  double spin = atof(argv[2]);
  if (count <= 0) return 2;
  int *word = shared_segment("futex", 4096);

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (;;) {
      wait_while(word, 0, spin);
      if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == 2) _exit(0);
      __atomic_store_n(word, 0, __ATOMIC_SEQ_CST);
      wake(word);
    }
  }

  double *samples = malloc(sizeof(double) * count);
  if (!samples) die("malloc");
  for (long i = 0; i < WARMUP + count; i++) {
    double t0 = now_us();
    __atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
    wake(word);
    wait_while(word, 1, spin);
    if (i >= WARMUP) samples[i - WARMUP] = now_us() - t0;
  }
  __atomic_store_n(word, 2, __ATOMIC_SEQ_CST);
  wake(word);
  print_latency(samples, count);
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");
  return 0;
}
