# A Python stdlib peer for the framed tests: connects to a Unix stream
# socket, echoes every length-prefixed message (4-byte big-endian length,
# then the bytes) with each byte incremented by 1, and prints "done <count>"
# when the other side ends the stream.
#   rpc_framed_peer.py <path>
import socket
import struct
import sys


def read_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None if not data else bytes(data)
        data += chunk
    return bytes(data)


sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
count = 0
while True:
    header = read_exact(sock, 4)
    if header is None:
        break
    (length,) = struct.unpack(">I", header)
    body = read_exact(sock, length) if length else b""
    reply = bytes((b + 1) & 255 for b in body)
    sock.sendall(struct.pack(">I", len(reply)) + reply)
    count += 1
sock.close()
print("done", count, flush=True)
