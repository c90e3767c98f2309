/* A C peer for POSIX message queue tests, through glibc:
 *   mq_peer send <name> <count>     sends the pattern messages (as mq_pattern.ts)
 *   mq_peer receive <name> <count>  receives and checks them, in order
 *   mq_peer priorities <name>       sends "p1","p9","p5" with those priorities
 *   mq_peer drain <name> <count>    receives count messages, prints "<prio>:<text>" each */
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t pattern(unsigned i, long msgsize, unsigned char *out) {
  size_t len = 4 + (i * 131u) % (unsigned long)(msgsize - 3);
  memcpy(out, &i, 4); /* little endian on every target we run */
  for (size_t j = 4; j < len; j++) out[j] = (unsigned char)((i * 31 + j * 7) & 0xff);
  return len;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *mode = argv[1], *name = argv[2];
  int count = argc > 3 ? atoi(argv[3]) : 0;
  mqd_t q = mq_open(name, O_RDWR);
  if (q == (mqd_t)-1) { perror("mq_open"); return 1; }
  struct mq_attr attr;
  mq_getattr(q, &attr);
  unsigned char *buf = malloc(attr.mq_msgsize), *want = malloc(attr.mq_msgsize);
  if (strcmp(mode, "send") == 0) {
    for (int i = 0; i < count; i++) {
      size_t len = pattern(i, attr.mq_msgsize, buf);
      if (mq_send(q, (char *)buf, len, 0) != 0) { perror("mq_send"); return 1; }
    }
    puts("sent");
  } else if (strcmp(mode, "receive") == 0) {
    for (int i = 0; i < count; i++) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 10;
      ssize_t n = mq_timedreceive(q, (char *)buf, attr.mq_msgsize, NULL, &ts);
      if (n < 0) { perror("mq_receive"); return 1; }
      size_t len = pattern(i, attr.mq_msgsize, want);
      if ((size_t)n != len || memcmp(buf, want, len) != 0) { printf("message %d differs\n", i); return 1; }
    }
    printf("received %d\n", count);
  } else if (strcmp(mode, "priorities") == 0) {
    mq_send(q, "p1", 2, 1);
    mq_send(q, "p9", 2, 9);
    mq_send(q, "p5", 2, 5);
    puts("sent");
  } else if (strcmp(mode, "drain") == 0) {
    for (int i = 0; i < count; i++) {
      unsigned prio;
      ssize_t n = mq_receive(q, (char *)buf, attr.mq_msgsize, &prio);
      if (n < 0) { perror("mq_receive"); return 1; }
      printf("%u:%.*s\n", prio, (int)n, buf);
    }
  } else {
    return 2;
  }
  mq_close(q);
  return 0;
}
