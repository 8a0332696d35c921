#!/usr/bin/env bash
# tools/httpd-test.sh HTTPD LOAD FETCH: uco-httpd's test (meson test --suite tools),
# with curl as the client.  Static files byte-exact (empty, small, 3 MiB),
# byte ranges (206, 416), If-Modified-Since (304), index.html, directory
# listings and the redirect to the name with its '/', Content-Type; 404,
# 403 (a symbolic link out of the root), and traversal refused however it
# is spelled (/../, %2e%2e, ..%2f, an absolute path stays under the root);
# /hello and /json; bad options; SIGTERM and SIGINT end it with status 0.
# Skipped (77) without curl.  Everything on 127.0.0.1, ports the kernel
# picks, every wait bounded.
set -uo pipefail

httpd=${1:?usage: httpd-test.sh HTTPD LOAD}
load=${2:?usage: httpd-test.sh HTTPD LOAD FETCH}
fetch=${3:?usage: httpd-test.sh HTTPD LOAD FETCH}
command -v curl >/dev/null || { echo "curl missing: skipped"; exit 77; }
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

ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }

start_server() {
	mkfifo "$tmp/ready"
	"$httpd" --host 127.0.0.1 --port 0 "$@" >"$tmp/ready" 2>"$tmp/server.err" &
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

stop_server() {
	local sig=$1 rc
	kill "-$sig" "$srv_pid"
	timeout 20 tail --pid="$srv_pid" -f /dev/null
	wait "$srv_pid"
	rc=$?
	srv_pid=
	check "SIG$sig: exit status 0 (got $rc)" "[[ $rc == 0 ]]"
}

# The tree served.
root=$tmp/root
mkdir -p "$root/sub/deeper" "$root/withindex"
: >"$root/empty.txt"
printf 'x' >"$root/one.txt"
head -c 3145728 /dev/urandom >"$root/big.bin"
head -c 70000 /dev/urandom >"$root/sub/mid.dat"
echo '<h1>index</h1>' >"$root/withindex/index.html"
echo 'secret' >"$tmp/outside.txt"
ln -s "$tmp/outside.txt" "$root/link-out"
echo '{"a":1}' >"$root/sub/deeper/x.json"

start_server --root "$root" --cores 2 || { echo "FAIL: server did not start"; cat "$tmp/server.err"; exit 1; }
base=http://127.0.0.1:$port

# status PATH [curl args]: the status code alone.
status() { local p=$1; shift; curl -s -o /dev/null -w '%{http_code}' --path-as-is "$@" "$base$p"; }

for f in empty.txt one.txt big.bin sub/mid.dat; do
	curl -s -o "$tmp/got" "$base/$f"
	check "GET /$f byte-exact" "cmp -s '$tmp/got' '$root/$f'"
done
check "HEAD: Content-Length, no body" \
	"[[ \$(curl -s -I '$base/big.bin' | tr -d '\r' | grep -i '^content-length:') == 'Content-Length: 3145728' ]]"
curl -s -r 100-199 -o "$tmp/got" -w '%{http_code}' "$base/big.bin" >"$tmp/code"
check "Range 100-199: 206, the right bytes" \
	"[[ \$(cat '$tmp/code') == 206 ]] && cmp -s '$tmp/got' <(tail -c +101 '$root/big.bin' | head -c 100)"
curl -s -r -1000 -o "$tmp/got" "$base/big.bin"
check "Range -1000 (suffix)" "cmp -s '$tmp/got' <(tail -c 1000 '$root/big.bin')"
curl -s -r 3145000- -o "$tmp/got" "$base/big.bin"
check "Range 3145000- (open)" "cmp -s '$tmp/got' <(tail -c +3145001 '$root/big.bin')"
check "Range past the end: 416" "[[ \$(status /big.bin -r 9999999-) == 416 ]]"
check "Content-Range of a 206" \
	"curl -s -D - -o /dev/null -r 0-9 '$base/one.txt' | tr -d '\r' | grep -qx 'Content-Range: bytes 0-0/1'"
lm=$(curl -s -I "$base/one.txt" | tr -d '\r' | sed -n 's/^Last-Modified: //p')
check "If-Modified-Since: 304" "[[ \$(status /one.txt -H 'If-Modified-Since: $lm') == 304 ]]"
check "If-Modified-Since older: 200" \
	"[[ \$(status /one.txt -H 'If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT') == 200 ]]"
check "Content-Type from the extension" \
	"curl -s -I '$base/sub/deeper/x.json' | tr -d '\r' | grep -qx 'Content-Type: application/json'"
check "index.html" "[[ \$(curl -s '$base/withindex/') == '<h1>index</h1>' ]]"
check "directory without '/': 301 to it" \
	"[[ \$(status /withindex) == 301 ]] && curl -s -I '$base/withindex' | tr -d '\r' | grep -qx 'Location: /withindex/'"
check "listing" "curl -s '$base/sub/' | grep -q 'href=\"mid.dat\"'"
check "404" "[[ \$(status /nope.txt) == 404 ]]"
check "404 in nginx's words" "curl -s '$base/nope' | grep -q '<center><h1>404 Not Found</h1></center>'"
check "403: a link out of the root" "[[ \$(status /link-out) == 403 ]]"
check "traversal /../ refused" "[[ \$(status /../outside.txt) == 400 ]]"
check "traversal /sub/../../ refused" "[[ \$(status /sub/../../outside.txt) == 400 ]]"
check "traversal %2e%2e refused" "[[ \$(status /%2e%2e/outside.txt) == 400 ]]"
check "traversal ..%2f refused" "[[ \$(status /..%2foutside.txt) == 400 ]]"
check "an encoded NUL refused" "[[ \$(status /one.txt%00.html) == 400 ]]"
check "an absolute path stays under the root" "[[ \$(status /$tmp/outside.txt) == 404 ]]"
check "/sub/../one.txt resolves inside" "[[ \$(curl -s --path-as-is '$base/sub/../one.txt') == x ]]"
check "POST: 405" "[[ \$(status /one.txt -X POST) == 405 ]]"
check "/hello" "[[ \$(curl -s '$base/hello') == 'Hello, World!' ]] && curl -s -I '$base/hello' | tr -d '\r' | grep -qx 'Content-Type: text/plain'"
check "/json" "[[ \$(curl -s '$base/json') == '{\"message\":\"Hello, World!\"}' ]]"
check "keep-alive: two files on one connection" \
	"[[ \$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}' '$base/one.txt' '$base/one.txt') == 10 ]]"
# uco-http-load against it: every response checked.
"$load" -c 8 -n 2000 "$base/hello" >"$tmp/load" 2>&1
check "uco-http-load: 2000 requests, no error" \
	"[[ \$? == 0 ]] && grep -qx 'requests: 2000' '$tmp/load' && grep -q '^errors: 0 ' '$tmp/load'"
"$load" -c 4 -p 16 -n 3200 "$base/sub/mid.dat" >"$tmp/load" 2>&1
check "uco-http-load: pipelined 16 deep, 70,000-byte bodies" \
	"[[ \$? == 0 ]] && grep -qx 'requests: 3200' '$tmp/load'"
"$load" -c 2 -n 20 "$base/nope" >"$tmp/load" 2>&1
check "uco-http-load: a wrong status is an error (status 1)" \
	"[[ \$? == 1 ]] && grep -q '^errors: 20 (status 20' '$tmp/load'"
"$load" -n 10 -m POST -b data --status 405 "$base/one.txt" >"$tmp/load" 2>&1
check "uco-http-load: method, body, expected status" "[[ \$? == 0 ]]"
# uco's client (uco-http-fetch, at most 5 at once) against it.
for i in $(seq 20); do echo "$base/big.bin"; echo "$base/withindex"; done |
	"$fetch" -j 5 >"$tmp/fetch" 2>&1
check "uco-http-fetch: 40 URLs, 5 at a time, bodies whole, redirect followed" \
	"[[ \$? == 0 ]] && [[ \$(grep -c '^200 3145728 ' '$tmp/fetch') == 20 ]] && [[ \$(grep -c '^200 15 ' '$tmp/fetch') == 20 ]]"
"$fetch" "$base/nope" "http://127.0.0.1:1/" >"$tmp/fetch" 2>&1
check "uco-http-fetch: 404 reported, refused connection in curl's words" \
	"[[ \$? == 1 ]] && grep -q '^404 ' '$tmp/fetch' && grep -q 'Failed to connect' '$tmp/fetch'"
"$load" -x "$base/" >"$tmp/load" 2>&1
check "uco-http-load: a bad option" "[[ \$? == 1 ]] && grep -q \"Try '.*--help'\" '$tmp/load'"
stop_server TERM

start_server --root "$root" --cores 1 --max-connections 4 || fail "restart"
check "--max-connections: serves" "[[ \$(curl -s 'http://127.0.0.1:$port/hello') == 'Hello, World!' ]]"
stop_server INT

# Bad options: one line, then the pointer to --help, and status 1.
for args in "--port 99999" "--cores 0" "--bogus" "--port" "extra"; do
	"$httpd" $args >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "'$args': status 1 and a --help pointer" \
		"[[ $rc == 1 ]] && [[ \$(wc -l <'$tmp/err') == 2 ]] && grep -q \"Try '.*--help'\" '$tmp/err'"
done
"$httpd" --root "$tmp/none" >"$tmp/out" 2>"$tmp/err"
check "a missing root: one line, status 1" "[[ \$? != 0 ]] && grep -q 'No such file' '$tmp/err'"
"$httpd" --help >"$tmp/out"
check "--help" "[[ \$? == 0 ]] && grep -q -- '--max-connections' '$tmp/out'"

echo "passed $passed, failed $failed"
((failed == 0))
