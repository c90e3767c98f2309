/* Prints, as JSON, the offsets of the C structs shm/ reads and writes
   (shm/_layout.ts), for tests/shm/layout_test.ts. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

int main(void) {
  printf("{\"FLOCK\":{\"size\":%zu,\"type\":%zu,\"whence\":%zu,\"start\":%zu,\"len\":%zu,\"pid\":%zu},",
         sizeof(struct flock), offsetof(struct flock, l_type),
         offsetof(struct flock, l_whence), offsetof(struct flock, l_start),
         offsetof(struct flock, l_len), offsetof(struct flock, l_pid));
  printf("\"STAT\":{\"size\":%zu,\"mode\":%zu,\"uid\":%zu,\"bytes\":%zu},",
         sizeof(struct stat), offsetof(struct stat, st_mode),
         offsetof(struct stat, st_uid), offsetof(struct stat, st_size));
  printf("\"STATVFS\":{\"size\":%zu,\"frsize\":%zu,\"blocks\":%zu,\"bavail\":%zu},",
         sizeof(struct statvfs), offsetof(struct statvfs, f_frsize),
         offsetof(struct statvfs, f_blocks), offsetof(struct statvfs, f_bavail));
  printf("\"SHMID_DS\":{\"size\":%zu,\"key\":%zu,\"uid\":%zu,\"gid\":%zu,\"cuid\":%zu,\"cgid\":%zu,\"mode\":%zu,"
         "\"segsz\":%zu,\"atime\":%zu,\"dtime\":%zu,\"ctime\":%zu,\"cpid\":%zu,\"lpid\":%zu,\"nattch\":%zu},",
         sizeof(struct shmid_ds), offsetof(struct shmid_ds, shm_perm.__key),
         offsetof(struct shmid_ds, shm_perm.uid), offsetof(struct shmid_ds, shm_perm.gid),
         offsetof(struct shmid_ds, shm_perm.cuid), offsetof(struct shmid_ds, shm_perm.cgid),
         offsetof(struct shmid_ds, shm_perm.mode), offsetof(struct shmid_ds, shm_segsz),
         offsetof(struct shmid_ds, shm_atime), offsetof(struct shmid_ds, shm_dtime),
         offsetof(struct shmid_ds, shm_ctime), offsetof(struct shmid_ds, shm_cpid),
         offsetof(struct shmid_ds, shm_lpid), offsetof(struct shmid_ds, shm_nattch));
  printf("\"consts\":{\"F_OFD_GETLK\":%d,\"F_OFD_SETLK\":%d,\"F_OFD_SETLKW\":%d,\"F_ADD_SEALS\":%d,\"F_GET_SEALS\":%d}}\n",
         F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_ADD_SEALS, F_GET_SEALS);
  return 0;
}
