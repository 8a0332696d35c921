#!/usr/bin/env python3
"""asyncpg peer of benchmarks/pg.c (pg_bench_uco): the same four figures,
measured the same way (best of 3 windows after a warm-up; wall time and
this process's CPU time, time.process_time(), per query).

  select1    await conn.fetchval("SELECT 1"), one at a time (asyncpg
             prepares and caches the statement)
  pipeline   await conn.executemany("SELECT $1::int", 1,000 rows): asyncpg's
             pipelined path (it sends every Bind/Execute, then one Sync;
             results are discarded, which uco's side does not do)
  pool_1000  1,000 tasks at once through asyncpg.create_pool(10, 10), each
             `async with pool.acquire()` + fetchval("SELECT 1")
  rows_100k  await conn.fetch(SELECT g, md5(g::text) FROM
             generate_series(1, 100000) g)

The server comes from UCO_PG_SOCKDIR, UCO_PG_PORT and UCO_PG_PASSWORD
(tests/pg_server.sh).  Prints RESULT lines with impl=asyncpg."""
import asyncio
import os
import sys
import time

import asyncpg

REPS = 3
quick = "--quick" in sys.argv
N_SELECT1 = 2000 if quick else 10000
N_PIPELINE = 20000 if quick else 100000
N_POOL_ROUNDS = 2 if quick else 10
N_ROWS = 2 if quick else 5
ROWS_SQL = "SELECT g, md5(g::text) FROM generate_series(1, 100000) g"


def result(name, value, unit):
    print(f"RESULT group=pg name={name} impl=asyncpg value={value:.4g} unit={unit}",
          flush=True)


backend_pid = 0


def server_s():
    """CPU seconds of the backend serving the measured connection."""
    try:
        with open(f"/proc/{backend_pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


async def best_of(fn):
    """(wall, cpu) seconds of the fastest of REPS runs of fn, after one."""
    best = None
    for rep in range(REPS + 1):
        s0, c0, t0 = server_s(), time.process_time(), time.perf_counter()
        await fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        srv = server_s() - s0
        if rep and (best is None or wall < best[0]):
            best = (wall, cpu, srv)
    return best


def report(name, queries, wall, cpu, srv=0.0, server=True):
    result(name, queries / wall / 1e3, "kq/s")
    result("cpu_us_" + name, cpu * 1e6 / queries, "us")
    if server and srv > 0:
        result("server_us_" + name, srv * 1e6 / queries, "us")


async def main():
    kw = dict(host=os.environ["UCO_PG_SOCKDIR"], port=int(os.environ["UCO_PG_PORT"]),
              user="uco", password=os.environ["UCO_PG_PASSWORD"], database="postgres")
    conn = await asyncpg.connect(**kw)
    global backend_pid
    backend_pid = conn.get_server_pid()

    async def select1():
        for _ in range(N_SELECT1):
            assert await conn.fetchval("SELECT 1") == 1
    report("select1", N_SELECT1, *await best_of(select1))

    args = [(1,)] * 1000

    async def pipeline():
        for _ in range(N_PIPELINE // 1000):
            await conn.executemany("SELECT $1::int", args)
    report("pipeline", N_PIPELINE, *await best_of(pipeline))

    pool = await asyncpg.create_pool(min_size=10, max_size=10, **kw)

    async def one():
        async with pool.acquire() as c:
            assert await c.fetchval("SELECT 1") == 1

    async def pooled():
        for _ in range(N_POOL_ROUNDS):
            await asyncio.gather(*(one() for _ in range(1000)))
    report("pool_1000", N_POOL_ROUNDS * 1000, *await best_of(pooled), server=False)
    await pool.close()

    async def rows():
        for _ in range(N_ROWS):
            assert len(await conn.fetch(ROWS_SQL)) == 100000
    wall, cpu, srv = await best_of(rows)
    result("rows_100k", wall * 1e3 / N_ROWS, "ms")
    result("cpu_ms_rows_100k", cpu * 1e3 / N_ROWS, "ms")
    if srv > 0:
        result("server_ms_rows_100k", srv * 1e3 / N_ROWS, "ms")
    await conn.close()


asyncio.run(main())
