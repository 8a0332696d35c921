#!/usr/bin/env bash
# tools/echo-test.sh SERVER CLIENT: the echo tools' test (meson test --suite
# tools).  Runs uco-echo-client --verify against uco-echo-server on 1 and 2
# cores (several sizes, pipelining, both receive modes), checks the error
# paths both tools promise (a bad option or value: one line, then "Try
# 'PROG --help' for more information.", exit 1 as cp(1) does; nothing
# listening, an unknown host, a server that hangs up: exit 1 with one line;
# a port another server listens on: "Address already in use"), the idle
# and read timeouts (the server closes the connection: read until EOF,
# bounded), and that SIGTERM stops the server with exit status 0.  Everything runs on 127.0.0.1 with ports the
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

# Bad usage: one line and the hint, exit 1 (cp --bogus does the same).
try_client="Try 'uco-echo-client --help' for more information\."
try_server="Try 'uco-echo-server --help' for more information\."
usage_error() { # WHAT PATTERN TRY COMMAND...
	local what=$1 pattern=$2 try=$3 rc
	shift 3
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if ((rc == 1)) && [[ ! -s $tmp/out ]] && (($(wc -l <"$tmp/err") == 2)) &&
		head -n1 "$tmp/err" | grep -Eq -- "$pattern" &&
		tail -n1 "$tmp/err" | grep -Eq -- "^$try\$"; then
		ok "$what"
	else
		fail "$what: exit status $rc (want 1), stderr:"
		cat "$tmp/err"
	fi
}
usage_error "client: unknown option" "^uco-echo-client: unrecognized option '--bogus'\$" \
	"$try_client" "$client" --bogus
usage_error "client: unknown short option" "^uco-echo-client: invalid option -- 'x'\$" \
	"$try_client" "$client" -x
usage_error "client: missing value" "^uco-echo-client: option '--port' requires an argument\$" \
	"$try_client" "$client" --port
usage_error "client: --size 0" '^uco-echo-client: --size 0: must be from 1' \
	"$try_client" "$client" --size 0
usage_error "client: bad number" '^uco-echo-client: --connections x: not a whole number' \
	"$try_client" "$client" --connections x
usage_error "client: --duration with --count" 'exclude each other' \
	"$try_client" "$client" --duration 1 --count 5
usage_error "client: stray argument" "unexpected argument 'stray'" \
	"$try_client" "$client" stray
usage_error "server: unknown option" "^uco-echo-server: unrecognized option '--bogus'\$" \
	"$try_server" "$server" --bogus
usage_error "server: bad port" '^uco-echo-server: --port 70000: out of range' \
	"$try_server" "$server" --port 70000
usage_error "server: stray argument" "unexpected argument 'stray'" \
	"$try_server" "$server" stray
usage_error "server: bad --idle-timeout" '^uco-echo-server: --idle-timeout soon: ' \
	"$try_server" "$server" --idle-timeout soon
usage_error "server: --read-timeout without --lines" 'needs --lines' \
	"$try_server" "$server" --read-timeout 1
usage_error "server: --recv with --lines" 'exclude each other' \
	"$try_server" "$server" --lines --recv oneshot
expect 1 '^uco-echo-client: cannot resolve no-such-host\.invalid:7000: Name or service not known$' \
	"client: unknown host: the resolver's words" \
	"$client" --host no-such-host.invalid --count 1
expect 1 '^uco-echo-server: cannot listen on no-such-host\.invalid:0: Name or service not known$' \
	"server: unknown host: the resolver's words" \
	"$server" --host no-such-host.invalid --port 0

# A second server on a port a first one (another process) listens on is
# refused, whatever the cores of either: never a silent share of the port.
for first in 1 2; do
	if start_server --cores "$first"; then
		for second in 1 2; do
			for mode in "" --lines; do
				expect 1 "cannot listen on 127\.0\.0\.1:$port: Address already in use" \
					"a second server ($second core(s) $mode) on the port of one on $first: refused" \
					"$server" --host 127.0.0.1 --port "$port" --cores "$second" $mode
			done
		done
		run_client "the first server ($first core(s)) still serves" \
			--connections 4 --count 400
		stop_server "first server on $first core(s)"
	else
		fail "server on $first core(s) for the busy-port test did not start"
	fi
done

# closed_within WHAT SECONDS SEND: open a connection with bash's /dev/tcp,
# send SEND (printf format), then read until the server closes it (EOF);
# the bound is generous and only stops a hung test.
closed_by_server() {
	local what=$1 send=$2 rc
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	# shellcheck disable=SC2059
	printf "$send" >&3
	timeout 30 cat <&3 >"$tmp/echoed"
	rc=$?
	exec 3<&-
	if ((rc == 0)); then
		ok "$what"
	else
		fail "$what: the connection was still open after 30 s (status $rc)"
	fi
}
for mode in "" "--recv oneshot" --lines; do
	# shellcheck disable=SC2086
	if start_server --idle-timeout 0.2 $mode; then
		closed_by_server "--idle-timeout 0.2 ${mode:-(multishot)}: an idle client is closed" ''
		stop_server "server with --idle-timeout ${mode}"
	else
		fail "server with --idle-timeout $mode did not start"
	fi
done
if start_server --lines --read-timeout 0.3; then
	closed_by_server "--lines --read-timeout 0.3: a line that never ends is cut" \
		'hello\nhalf a line'
	if [[ $(cat "$tmp/echoed") == hello ]]; then
		ok "--lines: the whole line before it was echoed"
	else
		fail "--lines: echoed '$(cat "$tmp/echoed")', want 'hello'"
	fi
	stop_server "server with --read-timeout"
else
	fail "server with --lines --read-timeout did not start"
fi
expect 0 '^usage: uco-echo-client' "client --help: exit 0" "$client" --help
expect 0 '^usage: uco-echo-server' "server --help: exit 0" "$server" --help

echo "$passed passed, $failed failed"
((failed == 0))
