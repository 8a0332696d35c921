# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "core", sourced by tools/bench (benchmarks/README.md): uco's own
# microbenchmarks (every build-release/benchmarks/uco_bench_*, run as they
# are: they set their own affinity) and the peers they are compared with.

title switch "one-way context switch"
title nop "per io_uring op, 64 NOPs in flight"
title spawn "spawn + join of a task"
title sleep "1,000,000 sleeping tasks (100,000 with --quick)"
title channel "cross-core hand-off of pointers"
title lock "lock hand-off between two tasks"
title queue "queue put + get on one task"

shopt -s nullglob
uco_benches=("$build"/benchmarks/uco_bench_*)
shopt -u nullglob
found=0
for b in "${uco_benches[@]}"; do
	[[ -f $b && -x $b ]] || continue
	found=1
	run "uco: $(basename "$b")" no "$b"
done
((found)) || note "no uco benchmarks (no $build/benchmarks/uco_bench_*): peers only"

bin=$build/benchmarks
if [[ -x $bin/switch_ucontext ]]; then
	run "peer: switch_ucontext" yes "$bin/switch_ucontext"
else
	note "switch_ucontext peer not built: skipped"
fi
if [[ -x $bin/switch_boost ]]; then
	run "peer: switch_boost" yes "$bin/switch_boost"
else
	note "switch_boost peer not built (no C++ compiler or no Boost.Context; tools/bootstrap installs both): skipped"
fi
if [[ -x $bin/nop_liburing ]]; then
	run "peer: nop_liburing" yes "$bin/nop_liburing"
else
	note "nop_liburing peer not built: skipped"
fi
# The cross-core handoffs use both CPUs (each pins its two threads to CPUs
# 0 and 1 itself, like uco_bench_channel's two loops): not pinned here.
for prog in channel_pipe channel_eventfd; do
	if [[ -x $bin/$prog ]]; then
		run "peer: $prog" no "$bin/$prog"
	else
		note "$prog peer not built: skipped"
	fi
done

# The Go peers are built here, not by meson, so that no Go toolchain only
# means no Go figures.  Standard library only: nothing is downloaded.
if command -v go >/dev/null 2>&1; then
	gobin=$top/$build/benchmarks/peers-go
	mkdir -p "$gobin"
	for prog in spawn_go sleep_go channel_go; do
		if (cd benchmarks/peers/$prog &&
			env GO111MODULE=on GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
				GOCACHE="$top/$build/go-cache" GOPATH="$top/$build/go-path" \
				go build -o "$gobin/$prog" .) >>"$log" 2>&1; then
			if [[ $prog == channel_go ]]; then
				# Between two goroutines on both CPUs.
				run "peer: $prog (GOMAXPROCS=2)" no \
					env GOMAXPROCS=2 "$gobin/$prog"
			else
				run "peer: $prog" yes "$gobin/$prog"
			fi
		else
			note "$prog peer did not build (see $log): skipped"
			status=1
		fi
	done
else
	note "go not found (Debian: golang-go): Go peers skipped"
fi

if [[ -n $py ]]; then
	run "peer: sleep_asyncio ($("$py" --version 2>&1))" yes \
		"$py" benchmarks/peers/sleep_asyncio.py
else
	note "no python3 with asyncio: asyncio peer skipped"
fi
