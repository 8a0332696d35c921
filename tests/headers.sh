#!/usr/bin/env bash
# Every public header stands alone: `#include <uco/X.h>` as the only line of
# a file compiles without a warning
#
#   - as C11 and as GNU C17, with -Wall -Wextra -Wpedantic -Werror;
#   - as C++17, with -Wall -Wextra -Wpedantic -Werror;
#
# and every header that declares a call wraps its declarations in
# extern "C", so a C++ program links against the C library.  The headers are
# found at run time (include/uco/*.h), so a new one is checked without
# anyone adding it here.
#
# Usage: headers.sh INCLUDE_DIR -- CC [args...] [-- CXX [args...]]
# Without a C++ compiler the C checks still run, and the test then reports
# a skip (exit 77) naming what is missing.
set -u

inc=${1:?usage: headers.sh INCLUDE_DIR -- CC [args...] [-- CXX [args...]]}
shift
[[ ${1:-} == -- ]] && shift
cc=()
while (($#)) && [[ $1 != -- ]]; do
	cc+=("$1")
	shift
done
[[ ${1:-} == -- ]] && shift
cxx=("$@")
failed=0
n=0

check() { # header language-flags... (the compiler is the first flag)
	local h=$1 out
	shift
	if ! out=$(printf '#include <uco/%s>\n' "$h" |
		"$@" -Wall -Wextra -Wpedantic -Werror -I "$inc" -fsyntax-only - 2>&1); then
		echo "FAIL $h ($*):"
		printf '%s\n' "$out" | head -n 20
		failed=1
	fi
}

for path in "$inc"/uco/*.h; do
	h=${path##*/}
	n=$((n + 1))
	check "$h" "${cc[@]}" -std=c11 -x c
	check "$h" "${cc[@]}" -std=gnu17 -x c
	if ((${#cxx[@]})); then
		check "$h" "${cxx[@]}" -std=c++17 -x c++
	fi
	if grep -q '^UCO_API' "$path" &&
		! grep -q '^extern "C" {$' "$path"; then
		echo "FAIL $h: declares calls but has no extern \"C\" block"
		failed=1
	fi
done

if ((n == 0)); then
	echo "headers: no headers under $inc/uco"
	exit 1
fi
if ((failed)); then
	exit 1
fi
echo "headers: $n headers compile alone as C11 and GNU C17"
if ((${#cxx[@]} == 0)); then
	echo "headers: no C++ compiler (Debian package g++): C++17 not checked"
	exit 77
fi
echo "headers: ... and as C++17, each call in extern \"C\""
