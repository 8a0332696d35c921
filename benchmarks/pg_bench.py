#!/usr/bin/env python3
"""The pg benchmark group: uco's PostgreSQL client (pg_bench_uco, built from
benchmarks/pg.c) against asyncpg (peers/pg_asyncpg.py) and psycopg 3 async
(peers/pg_psycopg.py), on one server in one run.

Run it through tests/pg_server.sh, which starts a throwaway PostgreSQL on a
Unix socket and exports UCO_PG_*:

    tests/pg_server.sh python3 benchmarks/pg_bench.py --build build-release

The server (the postmaster, hence every backend it forks) is pinned to CPU
0 and each client to CPU 1, as the echo benchmark pins server and client,
so a client's CPU time per query is its own.  Each program runs --repeat
times (3; 2 with --quick) and each run's RESULT lines are printed as they
are, for tools/bench to take the median.  The load average before and after
is printed (the machine is shared)."""
import argparse
import os
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build-release")
ap.add_argument("--repeat", type=int, default=0)
ap.add_argument("--quick", action="store_true")
args = ap.parse_args()
repeat = args.repeat or (2 if args.quick else 3)
here = os.path.dirname(os.path.abspath(__file__))

if "UCO_PG_CONNINFO" not in os.environ:
    sys.exit("pg_bench.py: no UCO_PG_CONNINFO (run it through tests/pg_server.sh)")

ncpu = os.cpu_count() or 1
server_cpu, client_cpu = "0", ("1" if ncpu >= 2 else "0")
pin = ["taskset", "-c", client_cpu]
try:
    with open(os.path.join(os.environ["UCO_PG_SOCKDIR"], "data", "postmaster.pid")) as f:
        pid = f.readline().strip()
    subprocess.run(["taskset", "-pc", server_cpu, pid], check=True,
                   stdout=subprocess.DEVNULL)
except (OSError, subprocess.CalledProcessError) as e:
    print(f"note: pg: the server could not be pinned to CPU {server_cpu} ({e})")
    pin = []

uco = os.path.join(args.build, "benchmarks", "pg_bench_uco")
py = sys.executable
progs = []
if os.access(uco, os.X_OK):
    progs.append(("uco", [uco]))
else:
    print(f"note: pg: no {uco} (built only with libpq-dev): no uco figures")
for mod, name, script in (("asyncpg", "asyncpg", "pg_asyncpg.py"),
                          ("psycopg", "psycopg", "pg_psycopg.py")):
    if subprocess.run([py, "-c", "import " + mod], stderr=subprocess.DEVNULL).returncode:
        print(f"note: pg: {py} cannot import {mod} (python3-{mod}): {name} peer skipped")
    else:
        progs.append((name, [py, os.path.join(here, "peers", script)]))


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


print(f"pg: load average before: {load()} ({ncpu} CPUs)", flush=True)
status = 0
for i in range(repeat):
    for name, cmd in progs:
        full = pin + cmd + (["--quick"] if args.quick else [])
        print(f"== pg: {name} (run {i + 1} of {repeat}): {' '.join(full)}", flush=True)
        r = subprocess.run(full)
        if r.returncode:
            print(f"note: pg: {name} failed (exit status {r.returncode})", flush=True)
            status = 1
print(f"pg: load average after: {load()}", flush=True)
sys.exit(status)
