#!/usr/bin/env python3
"""Server memory per idle keep-alive HTTP connection.

    http_idle_mem.py --pid PID --port PORT --connections N [--impl NAME]
                     [--procs P]

Warms the server up (a few thousand requests on a few connections, so its
receive buffers and pools are touched), reads its VmRSS, then opens N
connections from P client processes (the per-process fd limit), sends one
GET /hello on each, reads the response, and holds them all open.  Reads
VmRSS again once every connection has its answer and prints

    RESULT group=http name=idle_conn_mem_<N> impl=<impl> value=<B> unit=B

(bytes of server RSS per idle connection: the growth over N).  PID is the
process that holds the connections (for nginx: its one worker).
"""
import argparse
import os
import socket
import sys

REQ = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for %d" % pid)


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("server closed a connection")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
            while len(body) < n:
                body += s.recv(4096)
    return head


def client(port, n, ready_w, go_r):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQ)
        socks.append(s)
    for s in socks:
        read_response(s)
    os.write(ready_w, b"r")
    os.read(go_r, 1)  # hold them until told
    for s in socks:
        s.close()
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--procs", type=int, default=0)
    ap.add_argument("--impl", default="uco")
    a = ap.parse_args()

    # Warm-up.
    warm = [socket.create_connection(("127.0.0.1", a.port)) for _ in range(8)]
    for _ in range(300):
        for s in warm:
            s.sendall(REQ)
        for s in warm:
            read_response(s)
    for s in warm:
        s.close()
    before = rss_kib(a.pid)

    procs = a.procs or (a.connections + 8999) // 9000
    per = [a.connections // procs + (i < a.connections % procs)
           for i in range(procs)]
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    kids = []
    for n in per:
        pid = os.fork()
        if pid == 0:
            client(a.port, n, ready_w, go_r)
        kids.append(pid)
    for _ in kids:
        if not os.read(ready_r, 1):
            raise SystemExit("a client process failed")
    after = rss_kib(a.pid)
    os.write(go_w, b"g" * len(kids))
    for k in kids:
        os.waitpid(k, 0)
    per_conn = (after - before) * 1024.0 / a.connections
    print("RESULT group=http name=idle_conn_mem_%d impl=%s value=%.0f unit=B"
          % (a.connections, a.impl, per_conn))
    print("# %s: RSS %d KiB before, %d KiB with %d idle connections"
          % (a.impl, before, after, a.connections), file=sys.stderr)


if __name__ == "__main__":
    main()
