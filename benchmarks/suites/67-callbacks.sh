# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "callbacks", sourced by tools/bench (benchmarks/README.md): timer
# callbacks (uco/callback.h) against asyncio's loop.call_later, on one
# loop each (uco's pins its own thread; the peer runs pinned).

title callbacks "timer callbacks, 1,000,000 (100,000 with --quick): arm = call_later(1 s) each, handles kept; run = call_later(0) each, until the last has run"

if [[ -x $build/benchmarks/callbacks_bench ]]; then
	run "callbacks: uco" no "$build/benchmarks/callbacks_bench"
else
	note "callbacks_bench not built: skipped"
fi
if [[ -n $py ]]; then
	run "callbacks: asyncio ($("$py" --version 2>&1))" yes \
		"$py" benchmarks/peers/callbacks_asyncio.py
else
	note "no python3 with asyncio: the call_later peer is skipped"
fi
