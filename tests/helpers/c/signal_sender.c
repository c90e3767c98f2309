// signal_sender <pid> <signo> <count> [first]: queues <count> signals with
// values first, first+1, ... to <pid> with sigqueue(3), retrying EAGAIN (the
// target's queue full), then prints "sent <count>". Used by tests/signal/.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: signal_sender pid signo count [first]\n");
    return 2;
  }
  pid_t pid = (pid_t)atoi(argv[1]);
  int signo = atoi(argv[2]);
  int count = atoi(argv[3]);
  int first = argc > 4 ? atoi(argv[4]) : 0;
  for (int i = 0; i < count; i++) {
    union sigval value;
    memset(&value, 0, sizeof value);
    value.sival_int = first + i;
    while (sigqueue(pid, signo, value) != 0) {
      if (errno != EAGAIN) {
        fprintf(stderr, "sigqueue: %s\n", strerror(errno));
        return 1;
      }
      usleep(100);
    }
  }
  printf("sent %d\n", count);
  return 0;
}
