#!/usr/bin/env bash
# tools/echo-test.sh SERVER CLIENT: the echo tools' test (meson test --suite
# tools).  Runs uco-echo-client --verify against uco-echo-server on 1 and 2
# cores (several sizes, pipelining, both receive modes), checks the error
# paths both tools promise (bad arguments: exit 2; nothing listening, a
# server that hangs up: exit 1 with one line), and that SIGTERM stops the
# server with exit status 0.  Everything runs on 127.0.0.1 with ports the
# kernel picks; every run is bounded (client --count, `timeout`).
set -uo pipefail

server=${1:?usage: echo-test.sh SERVER CLIENT}
client=${2:?usage: echo-test.sh SERVER CLIENT}
failed=0
passed=0
tmp=$(mktemp -d)
srv_pid=

cleanup() {
	if [[ -n $srv_pid ]]; then
		kill "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
	echo "ok: $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL: $1"
	failed=$((failed + 1))
}

# start_server ARGS...: start the server on a kernel-picked port and set
# $port from its ready line (read with a time limit: no sleeping).
start_server() {
	mkfifo "$tmp/ready"
	"$server" --host 127.0.0.1 --port 0 "$@" >"$tmp/ready" 2>"$tmp/server.err" &
	srv_pid=$!
	local line=
	if ! read -r -t 20 line <"$tmp/ready"; then
		rm -f "$tmp/ready"
		return 1
	fi
	rm -f "$tmp/ready"
	[[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]] || return 1
	port=${BASH_REMATCH[1]}
}

# stop_server: SIGTERM, and the server must exit 0 on its own.
stop_server() {
	local what=$1 rc
	kill -TERM "$srv_pid"
	timeout 20 tail --pid="$srv_pid" -f /dev/null
	wait "$srv_pid"
	rc=$?
	srv_pid=
	if ((rc == 0)); then
		ok "$what: SIGTERM stops the server with status 0"
	else
		fail "$what: server exited with status $rc after SIGTERM"
		cat "$tmp/server.err"
	fi
}

# expect STATUS PATTERN WHAT COMMAND...: the command exits with STATUS and
# its output (stdout and stderr) matches PATTERN.
expect() {
	local want=$1 pattern=$2 what=$3 rc
	shift 3
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if ((rc == want)) && cat "$tmp/out" "$tmp/err" | grep -Eq -- "$pattern"; then
		ok "$what"
	else
		fail "$what: exit status $rc (want $want), stderr:"
		cat "$tmp/err"
	fi
}

# run_client WHAT ARGS...: a verified run that must succeed and report the
# round trips it was asked for.
run_client() {
	local what=$1 rc
	shift
	timeout 60 "$client" --host 127.0.0.1 --port "$port" --verify --timeout 20 \
		"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if ((rc == 0)) && grep -q '^STATS round_trips=' "$tmp/out"; then
		ok "$what"
	else
		fail "$what: exit status $rc"
		cat "$tmp/out" "$tmp/err"
	fi
}

for cores in 1 2; do
	for recv in multishot oneshot; do
		tag="server on $cores core(s), $recv receive"
		if ! start_server --cores "$cores" --recv "$recv"; then
			fail "$tag: server did not start"
			cat "$tmp/server.err"
			continue
		fi
		ok "$tag: ready line"
		run_client "$tag: 1 connection, 64 B" \
			--connections 1 --size 64 --count 2000
		run_client "$tag: 100 connections over 2 client cores, 4 KiB, pipeline 4" \
			--cores 2 --connections 100 --size 4K --pipeline 4 --count 20000
		run_client "$tag: 8 connections, 200 KiB messages (short reads and writes)" \
			--connections 8 --size 200K --pipeline 2 --count 64 --recv oneshot
		run_client "$tag: 1000 connections, 1 byte, pipeline 3" \
			--cores 2 --connections 1000 --size 1 --pipeline 3 --count 30000
		run_client "$tag: duration mode" \
			--connections 4 --size 100 --duration 0.3
		stop_server "$tag"
	done
done

# --max-connections 1: a client within the cap is served; one that opens
# three connections has the extra ones closed at once, which it reports as
# the server hanging up.  (Within the cap first: the server counts a
# connection until its task has seen the client go, which may be after the
# client has exited.)
if start_server --max-connections 1; then
	run_client "the server serves within its cap" --connections 1 --count 100
	expect 1 'server closed the connection|Connection reset by peer' "a server that hangs up: exit 1" \
		"$client" --host 127.0.0.1 --port "$port" --connections 3 --count 300
	stop_server "capped server"
else
	fail "capped server did not start"
fi

# SIGTERM with clients connected: the server waits --grace, cancels them,
# and exits 0; the client reports the hang-up.
if start_server --cores 2 --grace 0.2; then
	# The output file exists before tail looks for it (the client's own
	# redirection happens only once it has been forked).
	: >"$tmp/busy.out"
	"$client" --host 127.0.0.1 --port "$port" --connections 20 --cores 2 \
		--duration 60 >"$tmp/busy.out" 2>"$tmp/busy.err" &
	busy=$!
	# Wait (bounded) for the client's "connected:" line: the connections
	# are open and busy.
	if timeout 20 grep -q -m1 '^connected:' <(tail --pid="$busy" -f "$tmp/busy.out"); then
		stop_server "server with 20 busy connections, --grace 0.2"
	else
		fail "the busy client never connected"
	fi
	timeout 20 tail --pid="$busy" -f /dev/null
	wait "$busy"
	rc=$?
	if ((rc == 1)) && grep -Eq 'server closed the connection|reset by peer' "$tmp/busy.err"; then
		ok "the busy client reports the server going away"
	else
		fail "busy client: exit status $rc, stderr: $(cat "$tmp/busy.err")"
	fi
else
	fail "server for the busy-shutdown test did not start"
fi

# Nothing listening: take a port the kernel picked and close it again.
if start_server; then
	dead=$port
	stop_server "server for the refused port"
	expect 1 'cannot connect to 127\.0\.0\.1:[0-9]+: Connection refused' \
		"connection refused: exit 1 with one line" \
		"$client" --host 127.0.0.1 --port "$dead" --count 10
fi

expect 2 'unrecognized option|unknown option' "client: unknown option: exit 2" \
	"$client" --bogus
expect 2 '--size 0: must be from 1' "client: --size 0: exit 2" \
	"$client" --size 0
expect 2 '--connections x: not a whole number' "client: bad number: exit 2" \
	"$client" --connections x
expect 2 'exclude each other' "client: --duration with --count: exit 2" \
	"$client" --duration 1 --count 5
expect 2 '--port 70000' "server: bad port: exit 2" "$server" --port 70000
expect 2 'unexpected argument' "server: stray argument: exit 2" "$server" stray
expect 0 '^usage: uco-echo-client' "client --help: exit 0" "$client" --help
expect 0 '^usage: uco-echo-server' "server --help: exit 0" "$server" --help

echo "$passed passed, $failed failed"
((failed == 0))
