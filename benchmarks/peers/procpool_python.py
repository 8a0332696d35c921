#!/usr/bin/env python3
"""Peer of benchmarks/procpool_bench.c: the round trip of an empty job
through Python's concurrent.futures.ProcessPoolExecutor with one worker,
submitted and awaited one at a time (the way asyncio's run_in_executor
uses it), best of 3 rounds (2 with --quick)."""
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def empty():
    return None


def main():
    quick = "--quick" in sys.argv
    n = 2000 if quick else 20000
    best = float("inf")
    with ProcessPoolExecutor(max_workers=1) as ex:
        ex.submit(empty).result()  # the worker is started lazily
        for _ in range(2 if quick else 3):
            t0 = time.perf_counter()
            for _ in range(n):
                ex.submit(empty).result()
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
    print(f"RESULT group=procpool name=roundtrip_empty impl=python "
          f"value={best:.4g} unit=us", flush=True)


if __name__ == "__main__":
    main()
