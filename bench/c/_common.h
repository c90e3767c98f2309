// Shared by the C baselines of the mq, shm and sem suites: clock,
// percentiles, errors, a named shared-memory segment that is unlinked at once.
#ifndef IPCKIT_BENCH_COMMON_H
#define IPCKIT_BENCH_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double p) {
  // Linear interpolation between closest ranks, as tinybench does.
  double rank = p * (n - 1);
  long lo = (long)rank;
  long hi = lo + 1 < n ? lo + 1 : lo;
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

// Sorts the samples and prints {"p50","p99","samples"} in µs.
static inline void print_latency(double *samples, long n) {
  qsort(samples, n, sizeof(double), cmp_double);
  printf("{\"p50\":%.3f,\"p99\":%.3f,\"samples\":%ld}\n",
         percentile(samples, n, 0.50), percentile(samples, n, 0.99), n);
}

// A zero-filled POSIX shared memory segment of `size` bytes, mapped
// MAP_SHARED; its name is unlinked before returning (fork() keeps the
// mapping), so nothing is left behind even if the process dies.
static inline void *shared_segment(const char *tag, size_t size) {
  char name[64];
  snprintf(name, sizeof name, "/ipckit_bench_c_%d_%s", getpid(), tag);
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) die("shm_open");
  shm_unlink(name);
  if (ftruncate(fd, size) < 0) die("ftruncate");
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  close(fd);
  return p;
}

#endif
