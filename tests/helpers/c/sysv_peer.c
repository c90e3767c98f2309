// A C peer for the System V message queue tests, going through glibc.
//   send <id> <type> <count> <size>   send count messages of size bytes
//   recv <id> <type> <count> <size>   receive and check count messages
//   echo <id> <count>                 take type 1, send the text back as type 2
//   ftok <path> <proj>                print ftok(path, proj) as unsigned
// Message i carries byte j = (i * 7 + j) & 0xff.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

struct message {
  long type;
  unsigned char text[65536];
};

static struct message m;

static int fail(const char *what) {
  printf("%s failed: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "ftok") == 0) {
    key_t key = ftok(argv[2], atoi(argv[3]));
    if (key == -1) return fail("ftok");
    printf("%u\n", (unsigned)key);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "echo") == 0) {
    int id = atoi(argv[2]), count = atoi(argv[3]);
    for (int i = 0; i < count; i++) {
      ssize_t n = msgrcv(id, &m, sizeof m.text, 1, 0);
      if (n < 0) return fail("msgrcv");
      m.type = 2;
      if (msgsnd(id, &m, (size_t)n, 0) != 0) return fail("msgsnd");
    }
    printf("echoed %d\n", count);
    return 0;
  }
  if (argc == 6) {
    int id = atoi(argv[2]), count = atoi(argv[4]);
    long type = atol(argv[3]);
    size_t size = (size_t)atol(argv[5]);
    if (strcmp(argv[1], "send") == 0) {
      for (int i = 0; i < count; i++) {
        m.type = type;
        for (size_t j = 0; j < size; j++) m.text[j] = (unsigned char)(i * 7 + j);
        if (msgsnd(id, &m, size, 0) != 0) return fail("msgsnd");
      }
      printf("sent %d\n", count);
      return 0;
    }
    if (strcmp(argv[1], "recv") == 0) {
      for (int i = 0; i < count; i++) {
        ssize_t n = msgrcv(id, &m, sizeof m.text, type, 0);
        if (n < 0) return fail("msgrcv");
        if ((size_t)n != size) {
          printf("message %d: %zd bytes, expected %zu\n", i, n, size);
          return 1;
        }
        for (size_t j = 0; j < size; j++) {
          if (m.text[j] != (unsigned char)(i * 7 + j)) {
            printf("message %d: byte %zu differs\n", i, j);
            return 1;
          }
        }
      }
      printf("received %d\n", count);
      return 0;
    }
  }
  fprintf(stderr, "usage: sysv_peer send|recv|echo|ftok ...\n");
  return 2;
}
