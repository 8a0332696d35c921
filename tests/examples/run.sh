#!/bin/sh
# Run one asyncio port and compare what it prints with the expected output.
# With python3 on the machine, the Python original is run too and must
# print the same (the point of the port).
#   run.sh PROGRAM EXPECTED [ORIGINAL.py]
set -u
prog=$1 expected=$2 original=${3:-}
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
if ! "$prog" >"$out"; then
	echo "$prog: exited with status $?" >&2
	cat "$out" >&2
	exit 1
fi
if ! diff -u "$expected" "$out"; then
	echo "$prog: output differs from $expected" >&2
	exit 1
fi
if [ -n "$original" ] && command -v python3 >/dev/null 2>&1; then
	if ! python3 -I "$original" >"$out"; then
		echo "$original: exited with status $?" >&2
		exit 1
	fi
	if ! diff -u "$expected" "$out"; then
		echo "$original: output differs from $expected" >&2
		exit 1
	fi
fi
exit 0
