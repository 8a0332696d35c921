# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "http", sourced by tools/bench (benchmarks/README.md): uco-httpd's
# /hello against nginx (1 worker), h2o (1 thread), Go net/http
# (GOMAXPROCS=1) and aiohttp under wrk at 64, 512 and 64x16 pipelined
# connections, with uco-http-load beside wrk, and server memory per idle
# keep-alive connection at 10,000 and 19,000 (uco, nginx).
# benchmarks/http_bench.py pins each server to CPU 0 and the load to CPU 1
# itself, so it runs unpinned and once here.

title http "HTTP/1.1 /hello under wrk (req/s; *_cpu: server CPU-us per request; idle_*: server bytes per idle keep-alive connection)"

if [[ -z $py ]]; then
	note "no python3: http benchmark skipped"
elif [[ ! -x $build/tools/uco-httpd || ! -x $build/tools/uco-http-load ]]; then
	note "no $build/tools/uco-httpd (uco did not build): http benchmark skipped"
else
	saved_limit=$limit
	limit=$((limit * 4))
	run --once "http: uco, nginx, h2o, go, aiohttp" no \
		"$py" benchmarks/http_bench.py --build "$build"
	limit=$saved_limit
fi
