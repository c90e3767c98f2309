// A C peer for the sem tests: waits on the named semaphore argv[1] and
// posts argv[2], argv[3] times, with glibc's sem_open/sem_wait/sem_post.
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  sem_t *ping = sem_open(argv[1], 0);
  sem_t *pong = sem_open(argv[2], 0);
  if (ping == SEM_FAILED || pong == SEM_FAILED) { perror("sem_open"); return 1; }
  int times = atoi(argv[3]);
  printf("ready\n");
  fflush(stdout);
  for (int i = 0; i < times; i++) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 10;
    if (sem_clockwait(ping, CLOCK_MONOTONIC, &ts) != 0) { perror("sem_clockwait"); return 1; }
    if (sem_post(pong) != 0) { perror("sem_post"); return 1; }
  }
  sem_close(ping);
  sem_close(pong);
  printf("done\n");
  return 0;
}
