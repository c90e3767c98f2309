// ipckit's errno-safe call path (see _trampoline.ts). Built by
// scripts/trampoline/build.sh into a tiny shared object per architecture,
// embedded in _trampoline_so.ts, and loaded from a memfd at run time.
//
// A libc function called through ipckit_call has errno copied in the same
// native frame, before the JavaScript engine can run code of its own (a
// garbage collection, a timer, another FFI call) that might change it;
// ipckit_errno() returns that copy. ipckit_syscall returns -errno in its
// result, so even a call made on another thread (a Deno nonblocking call)
// reports its error.
#include <errno.h>
#include <unistd.h>

typedef long (*ipckit_fn)(long, long, long, long, long, long, long);

static __thread int saved_errno;

long ipckit_call(ipckit_fn fn, long a, long b, long c, long d, long e, long f,
                 long g) {
  long r = fn(a, b, c, d, e, f, g);
  saved_errno = errno;
  return r;
}

int ipckit_errno(void) { return saved_errno; }

long ipckit_syscall(long nr, long a, long b, long c, long d, long e, long f) {
  long r = syscall(nr, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}

// Signals (signal/): one SA_SIGINFO handler for every signal ipckit listens
// to. It only writes a 32-byte record (signal, code, sender pid and uid,
// value, deliveries lost before it) into a pipe whose non-blocking write end
// belongs to it alone, so it never blocks; a record that does not fit is
// counted, and the count rides on the next record that does. It saves and
// restores errno, and chains to the handler it replaced where asked (the
// runtime's own listeners keep working). signalfd cannot do this job: the
// runtimes run threads that do not block the signal.
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

#define IPCKIT_NSIG 65
#define IPCKIT_GUARDS 32

struct ipckit_signal_record {
  int32_t signo, code, pid;
  uint32_t uid;
  int32_t value, lost;
  int64_t reserved;
};

static int signal_pipe = -1;
static int signal_active[IPCKIT_NSIG];
static int signal_chain[IPCKIT_NSIG];
static uint32_t signal_lost[IPCKIT_NSIG];
// Gated chaining (install's chain 2): 1 while a chained delivery waits for
// the runtime's listener to acknowledge it (ipckit_signal_ack). Deliveries
// meanwhile are not chained: the runtime coalesces them anyway, and so the
// listener's next call proves the runtime has handled every chained one.
static int signal_ringing[IPCKIT_NSIG];
// Handlers running for each signal (on any thread), for restore's callers.
static int signal_running[IPCKIT_NSIG];
static struct sigaction signal_previous[IPCKIT_NSIG];
// Threads inside a chained handler: a chained handler that calls this one
// back (one that chains itself) is not run twice.
static long signal_guard[IPCKIT_GUARDS];

static void ipckit_signal_chain_to(int signo, siginfo_t *info, void *context) {
  struct sigaction *old = &signal_previous[signo];
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction != 0) old->sa_sigaction(signo, info, context);
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(signo);
  }
}

static void ipckit_signal_handler(int signo, siginfo_t *info, void *context) {
  int saved = errno;
  if (signo <= 0 || signo >= IPCKIT_NSIG) return;
  __atomic_add_fetch(&signal_running[signo], 1, __ATOMIC_ACQ_REL);
  if (__atomic_load_n(&signal_active[signo], __ATOMIC_ACQUIRE)) {
    long tid = syscall(SYS_gettid);
    for (int i = 0; i < IPCKIT_GUARDS; i++) {
      if (__atomic_load_n(&signal_guard[i], __ATOMIC_ACQUIRE) == tid) {
        __atomic_sub_fetch(&signal_running[signo], 1, __ATOMIC_ACQ_REL);
        errno = saved;
        return; // called back by the handler we chained to
      }
    }
    struct ipckit_signal_record r = {
      signo, info->si_code, info->si_pid, info->si_uid,
      info->si_value.sival_int, 0, 0};
    int fd = __atomic_load_n(&signal_pipe, __ATOMIC_ACQUIRE);
    r.lost = (int32_t)__atomic_exchange_n(&signal_lost[signo], 0,
                                          __ATOMIC_ACQ_REL);
    if (fd < 0 || write(fd, &r, sizeof r) != (long)sizeof r) {
      __atomic_add_fetch(&signal_lost[signo], (uint32_t)r.lost + 1,
                         __ATOMIC_ACQ_REL);
    }
    int chain = __atomic_load_n(&signal_chain[signo], __ATOMIC_ACQUIRE);
    if (chain == 2) {
      int idle = 0;
      if (!__atomic_compare_exchange_n(&signal_ringing[signo], &idle, 1, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        chain = 0; // one is already on its way to the runtime
      }
    }
    if (chain) {
      int slot = -1;
      for (int i = 0; i < IPCKIT_GUARDS && slot < 0; i++) {
        long free_slot = 0;
        if (__atomic_compare_exchange_n(&signal_guard[i], &free_slot, tid, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
          slot = i;
        }
      }
      if (slot >= 0) {
        ipckit_signal_chain_to(signo, info, context);
        __atomic_store_n(&signal_guard[slot], 0, __ATOMIC_RELEASE);
      }
    }
  }
  __atomic_sub_fetch(&signal_running[signo], 1, __ATOMIC_ACQ_REL);
  errno = saved;
}

// Sets the pipe the handler writes to (its write end, O_NONBLOCK).
void ipckit_signal_pipe(int fd) {
  __atomic_store_n(&signal_pipe, fd, __ATOMIC_RELEASE);
}

static int ipckit_signal_set(int signo) {
  struct sigaction act = {0};
  act.sa_sigaction = ipckit_signal_handler;
  act.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&act.sa_mask);
  return sigaction(signo, &act, &signal_previous[signo]) == 0 ? 0 : -errno;
}

// Installs the handler for signo, keeping the one it replaces (chained to
// when chain is 1; when chain is 2, only while no chained delivery waits for
// ipckit_signal_ack; put back by ipckit_signal_restore). 0 or -errno.
int ipckit_signal_install(int signo, int chain) {
  if (signo <= 0 || signo >= IPCKIT_NSIG || chain < 0 || chain > 2) {
    return -EINVAL;
  }
  __atomic_store_n(&signal_chain[signo], chain, __ATOMIC_RELEASE);
  int r = ipckit_signal_set(signo);
  if (r == 0) __atomic_store_n(&signal_active[signo], 1, __ATOMIC_RELEASE);
  return r;
}

// Whether the handler is still installed for signo. When something replaced
// it (a runtime adding its own handler later), installs it again on top,
// keeping the newcomer to chain to and to restore: returns 1 then, else 0.
int ipckit_signal_check(int signo) {
  struct sigaction now;
  if (signo <= 0 || signo >= IPCKIT_NSIG || !signal_active[signo]) return 0;
  if (sigaction(signo, 0, &now) != 0) return -errno;
  if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == ipckit_signal_handler)
    return 0;
  return ipckit_signal_set(signo) == 0 ? 1 : -errno;
}

// Puts back the disposition the handler replaced. 0 or -errno.
int ipckit_signal_restore(int signo) {
  if (signo <= 0 || signo >= IPCKIT_NSIG) return -EINVAL;
  __atomic_store_n(&signal_active[signo], 0, __ATOMIC_RELEASE);
  return sigaction(signo, &signal_previous[signo], 0) == 0 ? 0 : -errno;
}

// Takes the count of deliveries of signo that no record carried yet.
int ipckit_signal_lost(int signo) {
  if (signo <= 0 || signo >= IPCKIT_NSIG) return 0;
  return (int)__atomic_exchange_n(&signal_lost[signo], 0, __ATOMIC_ACQ_REL);
}

// The runtime's listener ran (chain 2): the next delivery is chained again.
// Returns 1 when a chained delivery was waiting for it, else 0.
int ipckit_signal_ack(int signo) {
  if (signo <= 0 || signo >= IPCKIT_NSIG) return 0;
  return __atomic_exchange_n(&signal_ringing[signo], 0, __ATOMIC_ACQ_REL);
}

// What may still reach the handler it chained to, after a restore: 1 when a
// chained delivery waits for ipckit_signal_ack, plus 2 while a handler for
// signo is running on some thread.
int ipckit_signal_unsettled(int signo) {
  if (signo <= 0 || signo >= IPCKIT_NSIG) return 0;
  return (__atomic_load_n(&signal_ringing[signo], __ATOMIC_ACQUIRE) ? 1 : 0) |
         (__atomic_load_n(&signal_running[signo], __ATOMIC_ACQUIRE) ? 2 : 0);
}
