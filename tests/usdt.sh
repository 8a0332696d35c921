#!/usr/bin/env bash
# The USDT probes (core/probes.h) are in the library: readelf -n shows a
# stapsdt note, provider "uco", for each of spawn, exit, suspend, resume,
# op_submit and op_complete, each with its arguments' locations.  A build
# without <sys/sdt.h> (Debian: systemtap-sdt-dev) or with -Dusdt=disabled
# has none: a counted skip.
#
# Usage: usdt.sh CONFIG_H LIBRARY...
set -u

config=$1
shift
if ! grep -q '^#define UCO_HAVE_SDT 1' "$config"; then
	echo "usdt: built without USDT probes (no <sys/sdt.h>, or -Dusdt=disabled): skipped"
	exit 77
fi
if ! command -v readelf >/dev/null 2>&1; then
	echo "usdt: readelf not found (Debian package binutils)"
	exit 1
fi

failed=0
for lib in "$@"; do
	notes=$(readelf -n "$lib") || { echo "usdt: readelf $lib failed"; exit 1; }
	for probe in spawn exit suspend resume op_submit op_complete; do
		# "Provider: uco" then "Name: <probe>" then its location and
		# "Arguments: ..." (at least the task's id and name).
		n=$(awk -v p="$probe" '
			/Provider: uco$/ { prov = 1; next }
			prov && $1 == "Name:" { name = $2; prov = 0; next }
			name == p && $1 == "Arguments:" { if (NF >= 3) n++; name = "" }
			END { print n + 0 }' <<<"$notes")
		if ((n == 0)); then
			echo "usdt: FAIL: no uco:$probe probe with arguments in $lib"
			failed=1
		else
			echo "usdt: uco:$probe: $n site(s) in $(basename "$lib")"
		fi
	done
done
exit $failed
