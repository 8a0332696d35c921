# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "copy", sourced by tools/bench (benchmarks/README.md): ucp against
# cp, cp --reflink=never, cp -a, rsync -a, dd, cat and tar | tar on four
# shapes of data, warm / settled / cold (benchmarks/copy_bench.py, which
# repeats each measurement itself, so it runs once here).  Unpinned: ucp's
# io-wq workers and offload threads are part of what it is.

title copy "ucp against cp and friends (s: wall seconds per copy; rss_*: peak MiB; syscalls_per_file_*)"

if [[ -z $py ]]; then
	note "no python3: copy benchmark skipped"
elif [[ ! -x $build/tools/ucp ]]; then
	note "no $build/tools/ucp (uco did not build): copy benchmark skipped"
else
	saved_limit=$limit
	limit=$((limit * 3))
	run --once "copy: ucp, cp, cp -a, rsync -a, dd, cat, tar" no \
		"$py" benchmarks/copy_bench.py --build "$build"
	limit=$saved_limit
fi
