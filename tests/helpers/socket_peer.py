# A Python stdlib peer for the socket tests.
#   seqpacket-echo <path>    binds a SOCK_SEQPACKET server, prints "ready",
#                            echoes one connection's records until it ends
#   dgram-echo <path>        binds a SOCK_DGRAM socket, prints "ready",
#                            echoes datagrams to their senders until "quit"
#   abstract-echo <name>     listens on the abstract stream name, prints
#                            "ready", echoes one connection's bytes
#   send-fd <path> <text>    connects (seqpacket), sends a memfd holding
#                            <text> with SCM_RIGHTS and the bytes "fd",
#                            waits for the end
#   recv-fd <path>           listens (seqpacket), prints "ready", accepts
#                            one connection, receives one descriptor and
#                            prints "got <contents read with pread>"
import os
import socket
import sys

mode = sys.argv[1]


def serve(family_type, address):
    server = socket.socket(socket.AF_UNIX, family_type)
    server.bind(address)
    server.listen(1)
    print("ready", flush=True)
    conn, _ = server.accept()
    server.close()
    return conn


if mode == "seqpacket-echo":
    path = sys.argv[2]
    conn = serve(socket.SOCK_SEQPACKET, path)
    os.unlink(path)
    while True:
        # A record of 0 bytes reads like the end: the tests send none.
        record = conn.recv(1 << 20)
        if not record:
            break
        conn.send(record)
    conn.close()
elif mode == "dgram-echo":
    path = sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    print("ready", flush=True)
    try:
        while True:
            data, sender = s.recvfrom(1 << 20)
            if data == b"quit":
                break
            s.sendto(data, sender)
    finally:
        s.close()
        os.unlink(path)
elif mode == "abstract-echo":
    conn = serve(socket.SOCK_STREAM, "\0" + sys.argv[2])
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.close()
elif mode == "send-fd":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[2])
    fd = os.memfd_create("ipckit-python-peer")
    os.write(fd, sys.argv[3].encode())
    socket.send_fds(s, [b"fd"], [fd])
    os.close(fd)
    s.recv(1)
    s.close()
elif mode == "recv-fd":
    path = sys.argv[2]
    conn = serve(socket.SOCK_SEQPACKET, path)
    os.unlink(path)
    data, fds, flags, _ = socket.recv_fds(conn, 1024, 4)
    contents = os.pread(fds[0], 1024, 0).decode()
    for fd in fds:
        os.close(fd)
    print("got", data.decode(), len(fds), contents, flush=True)
    conn.close()
else:
    raise SystemExit("unknown mode " + mode)
