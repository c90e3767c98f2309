# A Python stdlib peer (multiprocessing.shared_memory) for the shm tests.
#   create-write <name> <size> <seed>  creates the object, writes the pattern,
#                                      prints "ready", waits for a stdin line,
#                                      closes it (not unlinked)
#   read <name> <size> <seed>          attaches, checks size and pattern,
#                                      prints "ok" or the mismatch
# Python names have no leading "/" (it adds one). Python 3.11's
# resource_tracker unlinks every segment it saw at exit (track=False is
# 3.13+), so each is unregistered: the test owns the segment's life.
import sys
from multiprocessing import resource_tracker, shared_memory


def pattern(i, seed):
    return (i * 31 + seed + (i >> 8)) & 255


def untrack(shm):
    resource_tracker.unregister(shm._name, "shared_memory")


mode, name, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
expected = bytes(pattern(i, seed) for i in range(size))
if mode == "create-write":
    shm = shared_memory.SharedMemory(name=name.lstrip("/"), create=True, size=size)
    untrack(shm)
    shm.buf[:size] = expected
    print("ready", flush=True)
    sys.stdin.readline()
    shm.close()
elif mode == "read":
    shm = shared_memory.SharedMemory(name=name.lstrip("/"))
    untrack(shm)
    got = bytes(shm.buf[:size])
    if shm.size != size:
        print(f"size {shm.size}, expected {size}")
    elif got != expected:
        i = next(i for i in range(size) if got[i] != expected[i])
        print(f"byte {i} is {got[i]}, expected {expected[i]}")
    else:
        print("ok")
    shm.close()
