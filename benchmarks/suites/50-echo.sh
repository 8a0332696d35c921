# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "echo", sourced by tools/bench (benchmarks/README.md): uco's echo
# server against a plain C epoll server, libuv, asyncio and uvloop, all
# driven by uco-echo-client.  benchmarks/echo_bench.py pins each server to
# CPU 0 and the client to CPU 1 itself, so it runs unpinned here, and it
# repeats every measurement itself (--repeat), so it runs once.  It may
# take four times the usual limit: five servers at six loads, each
# repeated.

title echo "echo servers under uco-echo-client (rps: round trips/s; cpu_us, client_cpu_us: server and client CPU per round trip)"

if [[ -z $py ]]; then
	note "no python3: echo benchmark skipped"
elif [[ ! -x $build/tools/uco-echo-client ]]; then
	note "no $build/tools/uco-echo-client (uco did not build): echo benchmark skipped"
else
	# Its own default repetitions (3, or 2 with --quick) unless --reps.
	repeat=()
	((reps_given)) && repeat=(--repeat "$reps")
	saved_limit=$limit
	limit=$((limit * 4))
	run --once "echo: uco, epoll, libuv, asyncio, uvloop" no \
		"$py" benchmarks/echo_bench.py --build "$build" "${repeat[@]}"
	limit=$saved_limit
fi
