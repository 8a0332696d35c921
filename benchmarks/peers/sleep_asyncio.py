#!/usr/bin/env python3
"""Peer benchmark: 100,000 asyncio tasks asleep at once.

The figure uco's sleeping tasks are compared with.  Every task awaits
asyncio.sleep(1); all are created as fast as possible, then gathered.

Two figures:
  wall_100k (wall_10k with --quick)  seconds from the first create_task until
                                     the last task has finished
  rss_per_task                       (peak RSS after - RSS before creating) /
                                     number of tasks, in KiB, from VmHWM and
                                     VmRSS in /proc/self/status

The run is done once: peak RSS is only meaningful in a fresh process.

Prints, one line per figure:
  RESULT group=sleep name=<name> impl=asyncio value=<v> unit=<s|KiB>
"""
import argparse
import asyncio
import sys
import time


def status_kib(field):
    """A "kB" field of /proc/self/status (VmRSS, VmHWM, ...)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    sys.exit(f"sleep_asyncio: no {field} in /proc/self/status")


async def sleeper():
    await asyncio.sleep(1)


async def run(n):
    start = time.perf_counter()
    tasks = [asyncio.create_task(sleeper()) for _ in range(n)]
    spawned = time.perf_counter() - start
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    if spawned > 1:
        print(f"sleep_asyncio: note: creating {n} tasks took {spawned:.2f} s; "
              "the first ones woke before the last were created",
              file=sys.stderr)
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="10,000 tasks instead of 100,000")
    args = ap.parse_args()
    n, name = (10_000, "wall_10k") if args.quick else (100_000, "wall_100k")

    # Build the loop before measuring, so its own memory is not charged to
    # the tasks.
    loop = asyncio.new_event_loop()
    before = status_kib("VmRSS")
    wall = loop.run_until_complete(run(n))
    peak = status_kib("VmHWM")
    loop.close()

    print(f"RESULT group=sleep name={name} impl=asyncio value={wall:.3f} unit=s")
    print(f"RESULT group=sleep name=rss_per_task impl=asyncio "
          f"value={(peak - before) / n:.3f} unit=KiB")


if __name__ == "__main__":
    main()
