# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "tls", sourced by tools/bench (benchmarks/README.md): uco's TLS echo
# server (uco/tls.h over uco_start_server) against a plain epoll server on
# the same OpenSSL (benchmarks/peers/tls_epoll.c).  benchmarks/tls_bench.c
# starts both servers pinned to CPU 0 and drives each in turn from one
# blocking OpenSSL client on CPU 1, so it pins itself and runs unpinned
# here.

title tls "TLS 1.3 echo, ECDSA P-256 (handshakes: sequential connections/s; handshake_cpu_us: server CPU per connection; echo_64k: one connection, 64 KiB round trips)"

if [[ ! -x $build/benchmarks/tls_bench || ! -x $build/benchmarks/tls_epoll ]]; then
	note "tls_bench or tls_epoll not built (no OpenSSL 3; tools/bootstrap installs libssl-dev): TLS benchmark skipped"
elif ! command -v openssl >/dev/null; then
	note "no openssl command (tools/bootstrap installs openssl): TLS benchmark skipped"
else
	run "tls: uco against epoll+OpenSSL" no \
		"$build/benchmarks/tls_bench" --peer "$build/benchmarks/tls_epoll"
fi
