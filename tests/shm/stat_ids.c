/* Prints, as JSON, the offsets of struct stat's st_dev, st_ino and st_rdev
   (shm/_layout.ts STAT_IDS), for tests/shm/layout_ids_test.ts. */
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

int main(void) {
  printf("{\"dev\":%zu,\"ino\":%zu,\"rdev\":%zu}\n",
         offsetof(struct stat, st_dev), offsetof(struct stat, st_ino),
         offsetof(struct stat, st_rdev));
  return 0;
}
