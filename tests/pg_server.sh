#!/usr/bin/env bash
# tests/pg_server.sh — run a command against a throwaway PostgreSQL server.
#
# Usage: pg_server.sh COMMAND [ARGS...]
#
# Makes a temporary directory, initdb's a cluster in it and starts
# PostgreSQL (Debian's postgresql-15, or the newest installed) listening on
# a Unix socket in that directory only (listen_addresses='': no TCP port at
# all).  Then runs COMMAND with, in its environment:
#
#   UCO_PG_CONNINFO    a conninfo string for the server (user uco, password
#                      in it, database postgres)
#   UCO_PG_SOCKDIR     the socket's directory; UCO_PG_PORT its port number
#   UCO_PG_PASSWORD    the password (the tests try a wrong one too)
#   UCO_PG_RESTART     a shell command that restarts the server (pg_ctl
#                      restart -m fast, waiting until it accepts again)
#
# and exits with COMMAND's status.  The server is stopped and the directory
# removed on every way out (a trap on EXIT, INT and TERM), so a failing or
# killed test leaves no server behind.
#
# initdb and postgres refuse to run as root.  Run as root (as the tests are
# here), the server runs as the unprivileged system user `nobody` (runuser,
# from util-linux); the directory is chown'ed to it.  Otherwise it runs as
# the caller.  Authentication is scram-sha-256 with a password, so that a
# wrong password is refused as on a real server.
#
# A machine without the server binaries reports a counted skip: exit 77,
# which meson counts as SKIP, never as a pass.
set -uo pipefail

if (($# == 0)); then
	echo "usage: pg_server.sh COMMAND [ARGS...]" >&2
	exit 2
fi

bindir=
for d in /usr/lib/postgresql/*/bin; do
	[[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && bindir=$d
done
if [[ -z $bindir ]]; then
	echo "SKIP: no PostgreSQL server binaries (Debian: postgresql-15; tools/bootstrap installs it)"
	exit 77
fi

as_user=()
if ((EUID == 0)); then
	if ! command -v runuser >/dev/null 2>&1; then
		echo "SKIP: running as root and no runuser to start PostgreSQL as nobody (util-linux)"
		exit 77
	fi
	as_user=(runuser -u nobody --)
fi

dir=$(mktemp -d /tmp/uco-pg.XXXXXX) || exit 1
data=$dir/data
port=5432
password=uco-secret-$$

stop() {
	if [[ -f $data/postmaster.pid ]]; then
		"${as_user[@]}" "$bindir/pg_ctl" -D "$data" -m immediate -w stop \
			>/dev/null 2>&1
	fi
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chmod 700 "$dir"
((EUID == 0)) && chown nobody: "$dir"
printf '%s\n' "$password" >"$dir/pwfile"
((EUID == 0)) && chown nobody: "$dir/pwfile"

# cd: runuser keeps the caller's directory, which nobody may not read.
if ! (cd "$dir" && "${as_user[@]}" "$bindir/initdb" -D "$data" -U uco \
		--pwfile="$dir/pwfile" --auth=scram-sha-256 -E UTF8 \
		--locale=C.UTF-8 --no-sync) >"$dir/initdb.log" 2>&1; then
	echo "pg_server.sh: initdb failed:" >&2
	tail -n 20 "$dir/initdb.log" >&2
	exit 1
fi
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
log_min_messages = warning
EOF

ctl=("${as_user[@]}" "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 120)
if ! (cd "$dir" && "${ctl[@]}" start) >/dev/null 2>&1; then
	echo "pg_server.sh: the server did not start:" >&2
	tail -n 20 "$dir/server.log" >&2
	exit 1
fi

export UCO_PG_SOCKDIR=$dir
export UCO_PG_PORT=$port
export UCO_PG_PASSWORD=$password
export UCO_PG_CONNINFO="host=$dir port=$port user=uco dbname=postgres password=$password"
printf -v quoted '%q ' "${ctl[@]}"
UCO_PG_RESTART="cd $(printf '%q' "$dir") && ${quoted}-m fast restart >/dev/null 2>&1"
export UCO_PG_RESTART

"$@"
