#!/usr/bin/env python3
"""Peer benchmark: asyncio's loop.call_later, the figures uco's timer
callbacks (benchmarks/callbacks_bench.c) are compared with.

  arm_1M (arm_100k with --quick)  seconds to call loop.call_later(1, cb)
                                  1,000,000 times, keeping each handle;
                                  best of 3, each in a fresh event loop
                                  (closed, untimed, between repetitions)
  run_1M (run_100k)               seconds from the first
                                  loop.call_later(0, cb) until the last of
                                  them has run (it sets a future); best of 3

Prints, one line per figure:
  RESULT group=callbacks name=<name> impl=asyncio value=<v> unit=s
"""
import argparse
import asyncio
import sys
import time

REPS = 3


def nothing():
    pass


def arm(n):
    loop = asyncio.new_event_loop()
    try:
        call_later = loop.call_later
        cpu = time.thread_time()
        start = time.perf_counter()
        handles = [call_later(1, nothing) for _ in range(n)]
        took = time.perf_counter() - start
        cpu = time.thread_time() - cpu
        del handles
        return took, cpu
    finally:
        loop.close()


async def run_all(n):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    left = n

    def count():
        nonlocal left
        left -= 1
        if left == 0:
            done.set_result(None)

    cpu = time.thread_time()
    start = time.perf_counter()
    for _ in range(n):
        loop.call_later(0, count)
    await done
    return time.perf_counter() - start, time.thread_time() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="100,000 callbacks instead of 1,000,000")
    args = ap.parse_args()
    n, suffix = (100_000, "100k") if args.quick else (1_000_000, "1M")

    arms = [arm(n) for _ in range(REPS)]
    runs = [asyncio.run(run_all(n)) for _ in range(REPS)]
    best_arm = min(a[0] for a in arms)
    best_run = min(r[0] for r in runs)
    print(f"callbacks_asyncio: CPU time of the loop's thread (best of "
          f"{REPS}): arm {min(a[1] for a in arms):.3f} s, "
          f"run {min(r[1] for r in runs):.3f} s", file=sys.stderr)
    for name, value in ((f"arm_{suffix}", best_arm),
                        (f"run_{suffix}", best_run)):
        print(f"RESULT group=callbacks name={name} impl=asyncio "
              f"value={value:.4g} unit=s", flush=True)


if __name__ == "__main__":
    main()
