# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "procpool", sourced by tools/bench (benchmarks/README.md): the
# process pool (uco/procpool.h) against Python's ProcessPoolExecutor for an
# empty job's round trip, and its CPU-bound jobs/s on 1 and 2 workers (the
# speed-up on two cores; no peer).  Unpinned: the workers use both CPUs.

title procpool "process pool (roundtrip_empty: one empty job submitted and awaited at a time, 1 worker; cpu_1w/cpu_2w: CPU-bound jobs/s on 1 and 2 workers)"

if [[ -x $build/benchmarks/procpool_bench ]]; then
	run "procpool: uco" no "$build/benchmarks/procpool_bench"
else
	note "procpool_bench not built: skipped"
fi
if [[ -n $py ]]; then
	run "procpool: python ProcessPoolExecutor" no "$py" benchmarks/peers/procpool_python.py
else
	note "no python3: the ProcessPoolExecutor peer is skipped"
fi
