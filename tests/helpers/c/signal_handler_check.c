// Checks the trampoline's signal handler (ffi/_trampoline.c, compiled in):
// it leaves errno alone even when its write fails, counts a record a full
// pipe refuses and reports it on the next record, chains to the handler it
// replaced exactly once (also when that handler calls it back), and
// restore() puts the old disposition back. Prints "ok" or what failed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void ipckit_signal_pipe(int fd);
int ipckit_signal_install(int signo, int chain);
int ipckit_signal_check(int signo);
int ipckit_signal_restore(int signo);
int ipckit_signal_lost(int signo);

struct record {
  int32_t signo, code, pid;
  uint32_t uid;
  int32_t value, lost;
  int64_t reserved;
};

static int fails;
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      printf(__VA_ARGS__);                                                     \
      printf("\n");                                                            \
      fails++;                                                                 \
    }                                                                          \
  } while (0)

static volatile int previous_calls;
static void (*call_back)(int, siginfo_t *, void *);

static void previous(int signo, siginfo_t *info, void *context) {
  previous_calls++;
  // A handler that chains to the one it found (as signal-hook does): here,
  // ipckit's, which must not run twice nor loop.
  if (call_back) call_back(signo, info, context);
}

int main(void) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return 2;
  ipckit_signal_pipe(fds[1]);

  // A previous SA_SIGINFO handler, to chain to.
  struct sigaction old = {0};
  old.sa_sigaction = previous;
  old.sa_flags = SA_SIGINFO;
  sigemptyset(&old.sa_mask);
  sigaction(SIGUSR2, &old, 0);
  CHECK(ipckit_signal_install(SIGUSR2, 1) == 0, "install failed");
  CHECK(ipckit_signal_check(SIGUSR2) == 0, "check: handler not in place");

  // One delivery: one record with this pid, SI_TKILL, and one chained call.
  errno = 1234;
  raise(SIGUSR2);
  CHECK(errno == 1234, "errno changed to %d by a delivery", errno);
  struct record r;
  CHECK(read(fds[0], &r, sizeof r) == sizeof r, "no record");
  CHECK(r.signo == SIGUSR2 && r.pid == getpid() && r.code == SI_TKILL &&
            r.lost == 0,
        "record: signo %d pid %d code %d lost %d", r.signo, r.pid, r.code,
        r.lost);
  CHECK(previous_calls == 1, "previous handler called %d times",
        previous_calls);

  // The previous handler calls ipckit's back: still one record, one call.
  struct sigaction mine;
  sigaction(SIGUSR2, 0, &mine);
  call_back = mine.sa_sigaction;
  raise(SIGUSR2);
  CHECK(previous_calls == 2, "previous handler called %d times in all",
        previous_calls);
  CHECK(read(fds[0], &r, sizeof r) == sizeof r, "no record after call-back");
  CHECK(read(fds[0], &r, sizeof r) == -1 && errno == EAGAIN,
        "a second record after the call-back");
  call_back = 0;

  // A full pipe: the write fails (EAGAIN), errno is still the caller's, the
  // loss is counted and reported on the next record that fits.
  char fill[4096];
  memset(fill, 0, sizeof fill);
  while (write(fds[1], fill, sizeof fill) > 0) {
  }
  while (write(fds[1], fill, 32) > 0) {
  }
  errno = 4321;
  raise(SIGUSR2);
  raise(SIGUSR2);
  CHECK(errno == 4321, "errno changed to %d by a refused record", errno);
  char drain[65536];
  while (read(fds[0], drain, sizeof drain) > 0) {
  }
  raise(SIGUSR2);
  CHECK(read(fds[0], &r, sizeof r) == sizeof r, "no record after draining");
  CHECK(r.lost == 2, "the next record says %d lost, not 2", r.lost);
  CHECK(ipckit_signal_lost(SIGUSR2) == 0, "losses left uncounted");

  // Something else puts its handler over ipckit's: check() puts it back.
  sigaction(SIGUSR2, &old, 0);
  CHECK(ipckit_signal_check(SIGUSR2) == 1, "check did not reinstall");
  CHECK(ipckit_signal_check(SIGUSR2) == 0, "check reinstalled twice");

  // restore() puts back the handler it replaced last.
  CHECK(ipckit_signal_restore(SIGUSR2) == 0, "restore failed");
  struct sigaction now;
  sigaction(SIGUSR2, 0, &now);
  CHECK(now.sa_sigaction == previous, "restore left another handler");
  previous_calls = 0;
  raise(SIGUSR2);
  CHECK(previous_calls == 1, "restored handler not called");
  CHECK(read(fds[0], &r, sizeof r) == -1, "a record after restore");

  if (fails == 0) printf("ok\n");
  return fails == 0 ? 0 : 1;
}
