#!/usr/bin/env python3
"""Echo benchmark: uco's echo server against its peers, with one load client.

Run by tools/bench (or by hand):

    benchmarks/echo_bench.py --build build-release [--quick]
                             [--servers uco,epoll,libuv,asyncio,uvloop]

For each server -- uco (tools/uco-echo-server on one core), epoll
(benchmarks/peers/echo_epoll.c, the plain C baseline), libuv
(peers/echo_libuv.c), asyncio and uvloop (peers/echo_asyncio.py and
peers/echo_uvloop.py, the Protocol API) -- it:

  1. starts the server pinned to CPU 0 (taskset) on a port the kernel picks,
     and waits for its "listening on HOST:PORT" line and then for one
     connection to succeed (no sleeping);
  2. runs the same load client, tools/uco-echo-client pinned to CPU 1, at
     1, 64 and 512 connections with 64-byte and 4 KiB messages, one message
     in flight per connection;
  3. reads the server's CPU time (every thread: /proc/PID/task/*/schedstat,
     nanoseconds; /proc/PID/stat ticks where schedstat is missing) when the
     client says "connected:" and again when it prints its STATS line, so
     the window is the measured round trips only (no connects, no closes);
  4. for uco and epoll, counts the server's system calls over a fixed number
     of round trips (64 connections, 64 B): `perf stat -e
     raw_syscalls:sys_enter -p PID` attached for that window, or, where perf
     cannot count, `strace -c -f -p PID` (slower; only the count is used).

A server that is not installed is skipped with a note, never faked.

Prints, per server (impl=uco|epoll|libuv|asyncio|uvloop), figure and
configuration (<C> connections, <S> bytes):

  RESULT group=echo name=rps_<C>c_<S>        value=<thousand round trips/s> unit=krt/s
  RESULT group=echo name=cpu_us_<C>c_<S>     value=<server CPU us per round trip> unit=us
  RESULT group=echo name=client_cpu_us_<C>c_<S> value=<the client's CPU us per
                                             round trip while driving it> unit=us
  RESULT group=echo name=syscalls_per_rt_64c_64 value=<n> unit=syscalls/rt

(krt/s is a rate, higher is better; the others lower is better -- the
report, tools/benchreport.py, reads that from the unit.)  On a 2-core
machine the client shares the box: when it runs near 100% of its CPU, the
round-trip rate measures the client as much as the server, and the server's
CPU-us per round trip is the fairer comparison (DESIGN.md, "Measuring
servers honestly").  A human-readable line per run goes to stderr.
"""
import argparse
import glob
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

CONNECTIONS = (1, 64, 512)
SIZES = (64, 4096)
SERVER_CPU = "0"
CLIENT_CPU = "1"
SYSCALL_CONNS, SYSCALL_SIZE = 64, 64
READY = re.compile(r"listening on \S*?:(\d+)")
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Skip(Exception):
    """A server that cannot be run here: noted, not failed."""


class Failed(Exception):
    """A server or the client misbehaved: reported, and the exit status
    says so."""


def note(msg):
    # tools/bench collects "note:" lines into its report.
    print(f"note: echo: {msg}", flush=True)


def log(msg):
    print(f"echo: {msg}", file=sys.stderr, flush=True)


def clock_ticks():
    return os.sysconf("SC_CLK_TCK")


def server_cpu(pid):
    """CPU seconds used so far by every thread of pid."""
    total_ns, have = 0, False
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total_ns += int(f.read().split()[0])
                have = True
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    if have:
        return total_ns / 1e9
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name (which may hold spaces).
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks()


class Server:
    """A server process pinned to SERVER_CPU, started on a kernel-picked
    port."""

    def __init__(self, name, argv, pin):
        self.name = name
        self.proc = subprocess.Popen(pin + argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.port = None

    def wait_ready(self, limit=30):
        """Block until the ready line (bounded by `limit` seconds), then
        check that a connection succeeds."""
        out = self.proc.stdout
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise Failed(f"{self.name}: no ready line within {limit} s")
            line = out.readline()
            if not line:
                err = self.proc.stderr.read().strip()
                status = self.proc.wait()
                if status == 3:  # the uvloop peer: no uvloop
                    raise Skip(err or "not installed")
                raise Failed(f"{self.name}: exited with status {status} "
                             f"before it was ready: {err}")
            m = READY.search(line)
            if m:
                self.port = int(m.group(1))
                break
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=10).close()
        except OSError as e:
            raise Failed(f"{self.name}: said it listens on port {self.port} "
                         f"but a connection fails: {e.strerror}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failed(f"{self.name}: did not stop within 15 s of "
                             "SIGTERM (killed)")
        self.proc.stdout.close()
        self.proc.stderr.close()


def run_client(client, pin, port, conns, size, *, duration=None, count=None,
               on_start=None, on_stop=None):
    """Run the load client; call on_start() when its connections are open
    and the clock starts, on_stop() when it prints its STATS (connections
    still open).  Returns the STATS fields."""
    argv = pin + [client, "--host", "127.0.0.1", "--port", str(port),
                  "--connections", str(conns), "--size", str(size),
                  "--timeout", "20"]
    argv += ["--count", str(count)] if count else ["--duration", str(duration)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stats = None
    for line in proc.stdout:
        if line.startswith("connected:") and on_start:
            on_start()
        elif line.startswith("STATS "):
            if on_stop:
                on_stop()
            stats = dict(kv.split("=", 1) for kv in line.split()[1:])
    err = proc.stderr.read().strip()
    status = proc.wait()
    if status != 0 or stats is None:
        raise Failed(f"client, {conns} connections of {size} B: exit status "
                     f"{status}: {err or 'no STATS line'}")
    return {k: float(v) for k, v in stats.items()}


def measure(server, client, pin, conns, size, duration):
    """One run: the client's STATS plus the server's CPU seconds in the
    measured window."""
    cpu = {}
    stats = run_client(
        client, pin, server.port, conns, size, duration=duration,
        on_start=lambda: cpu.__setitem__("start", server_cpu(server.proc.pid)),
        on_stop=lambda: cpu.__setitem__("stop", server_cpu(server.proc.pid)))
    stats["server_cpu"] = cpu["stop"] - cpu["start"]
    return stats


class SyscallCounter:
    """Counts a process's system calls between start() and stop()."""

    def __init__(self, pid):
        self.pid = pid
        self.proc = None
        self.how = None
        self.out = f"/tmp/uco-echo-syscalls-{os.getpid()}.txt"

    def start(self):
        if shutil.which("perf"):
            self.proc = subprocess.Popen(
                ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter",
                 "-p", str(self.pid), "-o", self.out],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.how = "perf"
        elif shutil.which("strace"):
            self.proc = subprocess.Popen(
                ["strace", "-c", "-f", "-p", str(self.pid), "-o", self.out],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.how = "strace"
        else:
            raise Skip("neither perf nor strace is installed")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def count(self):
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        try:
            with open(self.out) as f:
                text = f.read()
        except OSError:
            text = ""
        finally:
            if os.path.exists(self.out):
                os.unlink(self.out)
        if self.how == "perf":
            for line in text.splitlines():
                fields = line.split(",")
                if len(fields) > 2 and fields[2] == "raw_syscalls:sys_enter":
                    if fields[0].strip().isdigit():
                        return int(fields[0])
        else:
            m = re.search(r"^-+.*\n\s*\S+\s+\S+\s+\S+\s+(\d+)", text, re.M)
            if m:
                return int(m.group(1))
        raise Failed(f"{self.how} counted no system calls: "
                     f"{(err or text).strip()[:300]}")


def count_syscalls(server, client, pin, rts):
    counter = SyscallCounter(server.proc.pid)
    stats = run_client(client, pin, server.port, SYSCALL_CONNS, SYSCALL_SIZE,
                       count=rts, on_start=counter.start, on_stop=counter.stop)
    return counter.count() / stats["round_trips"], counter.how


def result(name, impl, value, unit):
    print(f"RESULT group=echo name={name} impl={impl} value={value:.4g} "
          f"unit={unit}", flush=True)


def bench_server(name, argv, client, args, pin_server, pin_client):
    server = Server(name, argv, pin_server)
    try:
        server.wait_ready()
        for conns in CONNECTIONS:
            for size in SIZES:
                tag = f"{conns}c_{size}"
                # Every run is reported: the report takes the median
                # and shows the spread.
                for _ in range(args.repeat):
                    m = measure(server, client, pin_client, conns, size,
                                args.duration)
                    rt = m["round_trips"]
                    secs = m["seconds"]
                    srv_us = m["server_cpu"] * 1e6 / rt
                    result(f"rps_{tag}", name, m["rps"] / 1e3, "krt/s")
                    result(f"cpu_us_{tag}", name, srv_us, "us")
                    result(f"client_cpu_us_{tag}", name,
                           m["cpu_us_per_rt"], "us")
                    log(f"{name:8} {conns:4} conn x {size:5} B: "
                        f"{m['rps'] / 1e3:8.1f} krt/s  p50 {m['p50_us']:8.1f} us  "
                        f"p99 {m['p99_us']:8.1f} us | server "
                        f"{srv_us:6.2f} us/rt ({100 * m['server_cpu'] / secs:3.0f}% CPU)"
                        f" | client {m['cpu_us_per_rt']:6.2f} us/rt "
                        f"({100 * m['cpu_s'] / secs:3.0f}% CPU)")
        if name in args.syscalls:
            per_rt, how = count_syscalls(server, client, pin_client,
                                         args.syscall_rts)
            result(f"syscalls_per_rt_{SYSCALL_CONNS}c_{SYSCALL_SIZE}", name,
                   per_rt, "syscalls/rt")
            log(f"{name:8} {SYSCALL_CONNS:4} conn x {SYSCALL_SIZE:5} B: "
                f"{per_rt:.3f} system calls per round trip ({how}, "
                f"{args.syscall_rts} round trips)")
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build-release",
                    help="meson build directory (default build-release)")
    ap.add_argument("--quick", action="store_true",
                    help="0.5 s per run (the echo part of tools/bench "
                         "--quick takes about a minute)")
    ap.add_argument("--servers", default="uco,epoll,libuv,asyncio,uvloop",
                    help="comma-separated subset to run")
    ap.add_argument("--duration", type=float,
                    help="seconds per run (default 3, --quick 1)")
    ap.add_argument("--repeat", type=int,
                    help="runs per figure, each one reported (default 3, "
                         "--quick 2)")
    args = ap.parse_args()
    if args.duration is None:
        args.duration = 0.5 if args.quick else 3
    if args.repeat is None:
        args.repeat = 2 if args.quick else 3
    args.syscalls = ("uco", "epoll")
    args.syscall_rts = 30000 if args.quick else 200000

    build = os.path.join(TOP, args.build) if not os.path.isabs(args.build) \
        else args.build
    client = os.path.join(build, "tools", "uco-echo-client")
    if not os.access(client, os.X_OK):
        print(f"echo_bench: no load client at {client}: build uco first",
              file=sys.stderr)
        return 1
    pin_server, pin_client = [], []
    if shutil.which("taskset") and os.cpu_count() >= 2:
        pin_server = ["taskset", "-c", SERVER_CPU]
        pin_client = ["taskset", "-c", CLIENT_CPU]
    else:
        note("taskset or a second CPU missing: server and client run unpinned")

    py = sys.executable
    peers = os.path.join(TOP, "benchmarks", "peers")
    servers = {
        "uco": [os.path.join(build, "tools", "uco-echo-server"),
                "--host", "127.0.0.1", "--port", "0", "--cores", "1"],
        "epoll": [os.path.join(build, "benchmarks", "echo_epoll"), "0"],
        "libuv": [os.path.join(build, "benchmarks", "echo_libuv"), "0"],
        "asyncio": [py, os.path.join(peers, "echo_asyncio.py"), "0"],
        "uvloop": [py, os.path.join(peers, "echo_uvloop.py"), "0"],
    }
    wanted = [s for s in args.servers.split(",") if s]
    for s in wanted:
        if s not in servers:
            ap.error(f"unknown server {s} (known: {', '.join(servers)})")

    status = 0
    for name in wanted:
        argv = servers[name]
        if not os.access(argv[0], os.X_OK):
            why = {"libuv": " (Debian: libuv1-dev)"}.get(name, "")
            note(f"{name} server not built{why}: skipped")
            continue
        try:
            bench_server(name, argv, client, args, pin_server, pin_client)
        except Skip as e:
            note(f"{name} skipped: {e}")
        except Failed as e:
            print(f"echo_bench: {e}", file=sys.stderr, flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
