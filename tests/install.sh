#!/usr/bin/env bash
# The library as a user gets it: installed (meson install into a temporary
# DESTDIR), found through pkg-config, and linked into a C++17 program
# (tests/cxx_consumer.cpp) that spawns, sleeps and joins, once against
# libuco.so and once against libuco.a.  Fails if the
# install lacks the headers, the library or uco.pc, if the C++ program
# does not compile or link against them (no extern "C", a header missing
# from the install), or if it does not run.
#
# Usage: install.sh MESON BUILD_DIR CONSUMER_CPP CXX [args...]
# Without a C++ compiler (no CXX) or meson it reports a skip (exit 77).
# UCO_CXXFLAGS: more flags for the C++ build (the sanitizers of an ASan
# build of the library).
set -u

if (($# < 3)); then
	echo "usage: install.sh MESON BUILD_DIR CONSUMER_CPP CXX [args...]" >&2
	exit 2
fi
meson=$1 build=$2 src=$3
shift 3
cxx=("$@")
if ((${#cxx[@]} == 0)); then
	echo "install: no C++ compiler (Debian package g++): not checked"
	exit 77
fi
if ! command -v "$meson" >/dev/null 2>&1; then
	echo "install: no meson in PATH (Debian package meson): not checked"
	exit 77
fi

if ! command -v pkg-config >/dev/null 2>&1; then
	echo "install: pkg-config not found (Debian package pkg-config)"
	exit 1
fi
dest=$(mktemp -d "${TMPDIR:-/tmp}/uco-install.XXXXXX") || exit 1
trap 'rm -rf "$dest"' EXIT

if ! out=$("$meson" install -C "$build" --no-rebuild --destdir "$dest" 2>&1)
then
	printf '%s\n' "$out" | tail -n 20
	echo "install: FAIL: meson install --destdir failed"
	exit 1
fi

pc=$(find "$dest" -name uco.pc -path '*/pkgconfig/*' | head -n 1)
if [[ -z $pc ]]; then
	echo "install: FAIL: no uco.pc installed under $dest"
	exit 1
fi
# The .pc names the configured prefix; the sysroot puts DESTDIR before it.
export PKG_CONFIG_PATH=${pc%/*}
export PKG_CONFIG_SYSROOT_DIR=$dest
if ! flags=$(pkg-config --cflags --libs uco); then
	echo "install: FAIL: pkg-config --cflags --libs uco"
	exit 1
fi
# pkgconf puts the sysroot before variables too; pkg-config 0.29 does not.
in_dest() {
	local v
	v=$(pkg-config --variable="$1" uco) || return 1
	[[ $v == "$dest"/* ]] || v=$dest$v
	printf '%s\n' "$v"
}
libdir=$(in_dest libdir) && incdir=$(in_dest includedir) || {
	echo "install: FAIL: uco.pc has no libdir or includedir"
	exit 1
}
echo "install: uco.pc at ${pc#"$dest"}: $flags"
for f in "$incdir/uco/uco.h" "$libdir/libuco.so"; do
	if [[ ! -e $f ]]; then
		echo "install: FAIL: ${f#"$dest"} not installed"
		exit 1
	fi
done

# shellcheck disable=SC2086 # $flags is a list of words
if ! "${cxx[@]}" -std=c++17 -Wall -Wextra -Werror ${UCO_CXXFLAGS:-} "$src" $flags \
	-o "$dest/cxx_consumer"; then
	echo "install: FAIL: the C++17 program does not build against the install"
	exit 1
fi
# The installed library, not one elsewhere on the system.
export LD_LIBRARY_PATH=$libdir
lib=$(ldd "$dest/cxx_consumer" | awk '$1 ~ /^libuco\.so/ { print $3 }')
if [[ $lib != "$libdir"/* ]]; then
	echo "install: FAIL: the program loads libuco from '${lib:-nowhere}'"
	exit 1
fi
"$dest/cxx_consumer" || {
	echo "install: FAIL: the C++17 program failed (exit $?)"
	exit 1
}

# Linked statically against libuco.a, with the libraries uco.pc lists for
# a static link (Requires.private: liburing, jemalloc).
if ! cflags=$(pkg-config --cflags uco) ||
	! slibs=$(pkg-config --static --libs uco); then
	echo "install: FAIL: pkg-config --static --libs uco"
	exit 1
fi
slibs=${slibs/-luco/-l:libuco.a}
echo "install: static: $slibs"
# shellcheck disable=SC2086 # word lists
if ! "${cxx[@]}" -std=c++17 -Wall -Wextra -Werror ${UCO_CXXFLAGS:-} \
	$cflags "$src" $slibs -o "$dest/cxx_consumer-static"; then
	echo "install: FAIL: the C++17 program does not link against libuco.a"
	exit 1
fi
if ldd "$dest/cxx_consumer-static" | grep -q 'libuco\.so'; then
	echo "install: FAIL: the static build still loads libuco.so"
	exit 1
fi
"$dest/cxx_consumer-static" || {
	echo "install: FAIL: the statically linked C++17 program failed (exit $?)"
	exit 1
}
