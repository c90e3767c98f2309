// C baseline for the Mutex part of the sem suite: a robust, process-shared
// pthread mutex (PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST) placed in a
// POSIX shared memory segment, as ipckit's Mutex is.
//
//   locks micro <iterations>   one process: ns per uncontended lock/unlock
//                              pair, and the floors next to it
//   locks contended <n>        two fork()ed processes each take the mutex
//                              n times to increment a plain shared counter;
//                              total time per operation in ns
//
// Prints one JSON object. Micro figures are the median over 20 batches.
#include "_common.h"
#include <pthread.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define BATCHES 20

struct shared {
  pthread_mutex_t mutex;
  long counter;
  int ready;
  int futex_word;
  double start[2], end[2];
};

static void init_mutex(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (pthread_mutex_init(m, &a) != 0) die("pthread_mutex_init");
  pthread_mutexattr_destroy(&a);
}

static void lock(pthread_mutex_t *m) {
  int r = pthread_mutex_lock(m);
  if (r == EOWNERDEAD) pthread_mutex_consistent(m);
  else if (r != 0) die("pthread_mutex_lock");
}

// Median over BATCHES of ns per iteration of BODY.
#define MEASURE(result, iters, BODY)                                       \
  do {                                                                     \
    double per[BATCHES];                                                   \
    long each = (iters) / BATCHES;                                         \
    for (int b = 0; b < BATCHES; b++) {                                    \
      double t0 = now_us();                                                \
      for (long i = 0; i < each; i++) { BODY; }                            \
      per[b] = (now_us() - t0) * 1e3 / each;                               \
    }                                                                      \
    qsort(per, BATCHES, sizeof(double), cmp_double);                       \
    result = percentile(per, BATCHES, 0.5);                                \
  } while (0)

static void micro(long iters) {
  struct shared *s = shared_segment("locks", 4096);
  init_mutex(&s->mutex);
  volatile int *w = &s->futex_word;
  double mutex_ns, atomics_ns, wake_ns, getpid_ns;
  MEASURE(mutex_ns, iters, {
    lock(&s->mutex);
    pthread_mutex_unlock(&s->mutex);
  });
  // What ipckit's lock word does uncontended: one CAS, one exchange.
  MEASURE(atomics_ns, iters, {
    int expected = 0;
    __atomic_compare_exchange_n(w, &expected, 1, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    __atomic_exchange_n(w, 0, __ATOMIC_SEQ_CST);
  });
  MEASURE(wake_ns, iters / 10,
          syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, 0, 0));
  MEASURE(getpid_ns, iters / 10, syscall(SYS_getpid));
  printf("{\"mutex\":%.2f,\"atomics\":%.2f,\"futexWake\":%.2f,"
         "\"getpid\":%.2f}\n",
         mutex_ns, atomics_ns, wake_ns, getpid_ns);
}

static void contended(long n) {
  struct shared *s = shared_segment("locks", 4096);
  init_mutex(&s->mutex);
  pid_t child = fork();
  if (child < 0) die("fork");
  int me = child == 0 ? 1 : 0;
  // Start together: both spin (yielding, so one CPU works too) until both
  // arrived.
  __atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST) < 2) sched_yield();
  s->start[me] = now_us();
  for (long i = 0; i < n; i++) {
    lock(&s->mutex);
    s->counter++;
    pthread_mutex_unlock(&s->mutex);
  }
  s->end[me] = now_us();
  if (child == 0) _exit(0);
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");
  if (s->counter != 2 * n) {
    fprintf(stderr, "counter %ld, expected %ld\n", s->counter, 2 * n);
    exit(1);
  }
  double first = s->start[0] < s->start[1] ? s->start[0] : s->start[1];
  double last = s->end[0] > s->end[1] ? s->end[0] : s->end[1];
  printf("{\"nsPerOp\":%.2f,\"counter\":%ld}\n",
         (last - first) * 1e3 / (2 * n), s->counter);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s micro|contended <count>\n", argv[0]);
    return 2;
  }
  long count = atol(argv[2]);
  if (count <= 0) return 2;
  if (strcmp(argv[1], "micro") == 0) micro(count);
  else if (strcmp(argv[1], "contended") == 0) contended(count);
  else return 2;
  return 0;
}
