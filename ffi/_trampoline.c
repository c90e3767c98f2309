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
