#!/usr/bin/env bash
# tools/ucp-test.sh UCP [main|enospc|reflink]: the ucp tool's test (meson
# test --suite tools).
#
#   main     a generated tree with random content (empty, 1 byte, chunk
#            multiples and +-1, a file larger than the whole pipeline,
#            sparse, symlinks incl. dangling, hard links, nesting deeper
#            than PATH_MAX, odd names, xattrs) copied with -a and -r and
#            compared by content and metadata (and with cp -r's result);
#            cp's messages and exit status for the user's mistakes, side by
#            side with the real cp; an unreadable source (as nobody when
#            root); a file where a directory is needed; SIGINT at several
#            points and SIGTERM (130/143, a line saying how far it got, no
#            partial or temporary file); -n -u -T -t -v, --verify,
#            --direct, --fsync, -j, --progress (nothing on a pipe).
#   enospc   a small loop-mounted ext4 fills up      } exit 77 (a counted
#   reflink  --reflink=always on a loop-mounted btrfs } skip) when the
#            image cannot be mounted
#
# Nothing sleeps: a signal is sent once ucp's own output says it is at the
# point we want (its -v lines, its progress line), read through a FIFO.
set -uo pipefail
set -m # background jobs keep SIGINT's default action (for the SIGINT tests)

ucp=${1:?usage: ucp-test.sh UCP [main|enospc|reflink]}
mode=${2:-main}
ucp=$(realpath "$ucp")
export LC_ALL=C
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ucp-test.XXXXXX")
mnt=
failed=0
passed=0

cleanup() {
	[[ -n $mnt ]] && umount "$mnt" 2>/dev/null
	chmod -R u+rwx "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() { # check NAME CMD...: ok if CMD succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}

# gen_tree DIR [big]: the generated tree (python: os calls with dir_fd,
# which reach below PATH_MAX).
gen_tree() {
	python3 - "$1" "${2:-}" <<'EOF'
import os, random, sys
root, big = sys.argv[1], sys.argv[2] == "big"
rnd = random.Random(1234)
os.mkdir(root)
fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
def put(name, size, dfd=fd):
    with open(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644, dir_fd=dfd), "wb") as f:
        f.write(rnd.randbytes(size))
K, M = 1024, 1024 * 1024
for s in [0, 1, 4095, 4096, 4097, 128*K-1, 128*K, 128*K+1, M-1, M, M+1, 2*M+1, 8*M+1]:
    put("size-%d" % s, s)
if big:
    put("bigger-than-pipeline", 40 * M + 3)
sp = os.open("sparse", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
os.ftruncate(sp, 64 * M); os.pwrite(sp, b"data", 16 * M); os.pwrite(sp, b"more", 40 * M + 5); os.close(sp)
os.symlink("size-1", "link", dir_fd=fd)
os.symlink("no/such/target", "dangling", dir_fd=fd)
os.mkdir("sub", dir_fd=fd)
put("hl1", 5000)
os.link("hl1", "sub/hl2", src_dir_fd=fd, dst_dir_fd=fd)
os.link("hl1", "hl3", src_dir_fd=fd, dst_dir_fd=fd)
for n in [b"with space", b"new\nline", b"bad\xff\xfeutf8", b"-dash", b".hidden"]:
    put(n, rnd.randrange(100))
os.mkdir("many", dir_fd=fd)
for i in range(200):
    put("many/f%03d" % i, rnd.randrange(10000))
os.mkdir("emptydir", 0o700, dir_fd=fd)
os.mkfifo("fifo", 0o640, dir_fd=fd)
os.utime("size-4096", ns=(978307200000000005, 978307200123456789), dir_fd=fd)
os.chmod("size-1", 0o600, dir_fd=fd)
try:
    os.setxattr("size-1", "user.ucp", b"value", dir_fd=fd) if False else \
        os.setxattr("%s/size-1" % root, "user.ucp", b"value")
except OSError as e:
    print("no user xattrs here:", e, file=sys.stderr)
d = os.dup(fd)
for i in range(45):  # 45 x 100 bytes: deeper than PATH_MAX
    os.mkdir("d" * 100, dir_fd=d)
    n = os.open("d" * 100, os.O_RDONLY | os.O_DIRECTORY, dir_fd=d)
    os.close(d)
    d = n
put("deepfile", 3000, d)
EOF
}

# cmp_tree A B [meta]: same entries, types, sizes, contents, symlink
# targets; with meta also modes, mtimes, xattrs and hard links.  No
# temporary (".ucp-*") entries.
cmp_tree() {
	python3 - "$1" "$2" "${3:-}" <<'EOF'
import os, stat, sys
a, b, meta = sys.argv[1], sys.argv[2], sys.argv[3] == "meta"
bad = []
def walk(top):
    out = {}
    for dp, dn, fn, dfd in os.fwalk(top):
        rel = os.path.relpath(dp, top)
        for n in dn + fn:
            st = os.stat(n, dir_fd=dfd, follow_symlinks=False)
            e = {"type": stat.S_IFMT(st.st_mode), "ino": st.st_ino, "nlink": st.st_nlink}
            if meta:
                e["mode"] = stat.S_IMODE(st.st_mode)
                if not stat.S_ISDIR(st.st_mode):
                    e["mtime"] = st.st_mtime_ns
            if stat.S_ISREG(st.st_mode):
                with open(os.open(n, os.O_RDONLY, dir_fd=dfd), "rb") as f:
                    e["data"] = hash(f.read())
                e["blocks"] = st.st_blocks
                e["size"] = st.st_size
                if meta:
                    try:
                        e["xattr"] = os.getxattr("/proc/self/fd/%d/%s" % (dfd, os.fsdecode(n) if isinstance(n, bytes) else n), "user.ucp")
                    except OSError:
                        e["xattr"] = None
            elif stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(n, dir_fd=dfd)
            out[os.path.normpath(os.path.join(rel, n))] = e
    return out
A, B = walk(a), walk(b)
for k in sorted(set(A) | set(B)):
    if k not in B: bad.append("missing " + repr(k)); continue
    if k not in A: bad.append("extra " + repr(k)); continue
    x, y = A[k], B[k]
    for f in x:
        if f in ("ino", "nlink", "blocks"): continue
        if x[f] != y[f]: bad.append("%r: %s %r != %r" % (k, f, x[f], y[f]))
    if "size" in x and x["blocks"] * 512 < x["size"] and y["blocks"] > x["blocks"] + 64:
        bad.append("%r: not sparse (%d blocks)" % (k, y["blocks"]))
if meta:  # the same hard-link groups
    def groups(T):
        g = {}
        for k, e in T.items():
            if e["type"] == stat.S_IFREG and e["nlink"] > 1: g.setdefault(e["ino"], []).append(k)
        return sorted(sorted(v) for v in g.values())
    if groups(A) != groups(B): bad.append("hard links: %r != %r" % (groups(A), groups(B)))
for k in B:
    if os.path.basename(k).startswith(".ucp-"): bad.append("temporary " + k)
for line in bad[:10]: print("  " + line)
sys.exit(1 if bad else 0)
EOF
}

no_temps() { [[ -z $(find "$1" -name '.ucp-*' 2>/dev/null) ]]; }

# Every regular file under DST (one level, DIR) equals the one under SRC.
all_whole() {
	local src=$1 dst=$2 f
	[[ -d $dst ]] || return 0
	for f in "$dst"/*; do
		[[ -f $f && ! -L $f ]] || continue
		cmp -s "$f" "$src/${f##*/}" || { echo "  partial: $f"; return 1; }
	done
}

# same_as_cp NAME ARGS...: cp and ucp, run with the same arguments in
# fresh copies of a small fixture, print the same words (cp -> ucp) and
# exit with the same status.
fixture() {
	rm -rf "$tmp/fx" && mkdir -p "$tmp/fx/d/sub" "$tmp/fx/dd/f" &&
		echo x >"$tmp/fx/f" && echo y >"$tmp/fx/g" && echo z >"$tmp/fx/d/sub/h" &&
		mkdir -p "$tmp/fx/e/d" && echo w >"$tmp/fx/e/d/sub"
}
same_as_cp() {
	local name=$1 want got rw rg
	shift
	fixture
	want=$(cd "$tmp/fx" && cp "$@" 2>&1 >/dev/null)
	rw=$?
	fixture
	got=$(cd "$tmp/fx" && "$ucp" --no-progress "$@" 2>&1 >/dev/null)
	rg=$?
	want=${want//cp: /ucp: }
	want=${want//\'cp --help\'/\'ucp --help\'}
	if [[ $got == "$want" && $rg == "$rw" ]]; then
		ok "as cp: $name"
	else
		fail "as cp: $name: cp said [$want] ($rw), ucp said [$got] ($rg)"
	fi
}

mount_image() { # mount_image MKFS MB: a loop-mounted image at $mnt
	local img=$tmp/img
	mnt=$tmp/mnt
	mkdir -p "$mnt"
	truncate -s "$2M" "$img" && $1 "$img" >/dev/null 2>&1 &&
		mount -o loop "$img" "$mnt" 2>/dev/null && return 0
	mnt=
	return 1
}

# ---------------------------------------------------------------------------
if [[ $mode == enospc ]]; then
	if ! mount_image "mkfs.ext4 -q -F" 8; then
		echo "SKIP: cannot mount an ext4 image here"
		exit 77
	fi
	mkdir "$tmp/src"
	for i in $(seq 1 20); do head -c 1000 /dev/urandom >"$tmp/src/small$i"; done
	head -c $((24 << 20)) /dev/urandom >"$tmp/src/toobig"
	err=$("$ucp" -r "$tmp/src" "$mnt/dst" 2>&1)
	rc=$?
	check "full disk: exit 1" test $rc = 1
	check "full disk: cp's words" grep -qx "ucp: error writing '$mnt/dst/toobig': No space left on device" <<<"$err"
	check "full disk: one line" test "$(wc -l <<<"$err")" = 1
	check "full disk: no partial file" test ! -e "$mnt/dst/toobig"
	check "full disk: no temporary file" no_temps "$mnt"
	check "full disk: the rest whole" all_whole "$tmp/src" "$mnt/dst"
	echo "passed $passed, failed $failed"
	exit $((failed > 0))
fi

if [[ $mode == reflink ]]; then
	if ! mount_image "mkfs.btrfs -q -f" 128; then
		echo "SKIP: cannot mount a btrfs image here"
		exit 77
	fi
	head -c $((20 << 20)) /dev/urandom >"$mnt/f"
	check "reflink=always on btrfs" "$ucp" --reflink=always "$mnt/f" "$mnt/g"
	check "reflink: same content" cmp -s "$mnt/f" "$mnt/g"
	gen_tree "$mnt/src"
	check "reflink: -a tree on btrfs" "$ucp" -a "$mnt/src" "$mnt/dst"
	check "reflink: tree compares" cmp_tree "$mnt/src" "$mnt/dst" meta
	echo "passed $passed, failed $failed"
	exit $((failed > 0))
fi

# --- main: trees ------------------------------------------------------------
gen_tree "$tmp/src" big
"$ucp" -a "$tmp/src" "$tmp/a"
check "-a: exit 0" test $? = 0
check "-a: content and metadata, hard links, xattrs" cmp_tree "$tmp/src" "$tmp/a" meta
"$ucp" -r "$tmp/src" "$tmp/r"
check "-r: exit 0" test $? = 0
check "-r: content" cmp_tree "$tmp/src" "$tmp/r"
# cp -r cannot reach below PATH_MAX either way; compare the rest with it.
mv "$tmp/src/$(printf 'd%.0s' $(seq 100))" "$tmp/deep.keep"
rm -rf "$tmp/r2" "$tmp/cp"
"$ucp" -r "$tmp/src" "$tmp/r2" && cp -r "$tmp/src" "$tmp/cp"
check "-r: the same modes, types and content as cp -r" cmp_tree "$tmp/cp" "$tmp/r2"
mv "$tmp/deep.keep" "$tmp/src/$(printf 'd%.0s' $(seq 100))"
"$ucp" -a "$tmp/src" "$tmp/a"
check "-a again into the copy: merged, exit 0" test $? = 0
check "-a again: nothing extra (into a/src)" cmp_tree "$tmp/src" "$tmp/a/src" meta
for j in 1 64; do
	rm -rf "$tmp/j"
	"$ucp" -a -j $j "$tmp/src" "$tmp/j"
	check "-j $j" cmp_tree "$tmp/src" "$tmp/j" meta
done
rm -rf "$tmp/j" "$tmp/r2" "$tmp/cp" "$tmp/a/src"

# --- single files, flags ----------------------------------------------------
f=$tmp/src/size-1048577
check "--direct" "$ucp" --direct "$f" "$tmp/direct"
check "--direct: same" cmp -s "$f" "$tmp/direct"
check "--fsync" "$ucp" --fsync "$f" "$tmp/fsynced"
check "--fsync: same" cmp -s "$f" "$tmp/fsynced"
out=$("$ucp" -v --verify "$f" "$tmp/verified")
sum=$(python3 -c '
import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read(): h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
print("%016x" % h)' "$f")
check "--verify -v prints the checksum" test "$out" = "'$f' -> '$tmp/verified' (fnv1a64 $sum)"
check "-v as cp -v" test "$("$ucp" -v "$f" "$tmp/v1")" = "$(cp -v "$f" "$tmp/v2" | sed "s|v2|v1|")"
echo old >"$tmp/keep"
"$ucp" -n "$f" "$tmp/keep"
check "-n keeps" test "$(cat "$tmp/keep")" = old
touch -d '2030-01-01' "$tmp/keep"
"$ucp" -u "$f" "$tmp/keep"
check "-u keeps a newer one" test "$(cat "$tmp/keep")" = old
touch -d '2000-01-01' "$tmp/keep"
"$ucp" -u "$f" "$tmp/keep"
check "-u replaces an older one" cmp -s "$f" "$tmp/keep"
mkdir -p "$tmp/t1" "$tmp/t2"
"$ucp" -t "$tmp/t1" "$f" "$tmp/src/size-1"
check "-t DIR" test -f "$tmp/t1/size-1048577" -a -f "$tmp/t1/size-1"
"$ucp" -rT "$tmp/src/sub" "$tmp/t2"
check "-T: into, not under" test -f "$tmp/t2/hl2"
check "--progress: nothing on a pipe" test -z "$("$ucp" -r "$tmp/src/many" "$tmp/pp" 2>&1 | cat)"
# On a terminal the progress line is the default: bytes and files of the
# total, the rate.  (script(1) gives ucp a terminal; the copy is long
# enough for the first redraw, 100 ms in.)
truncate -s 600M "$tmp/sparse600"
script -qec "$ucp --sparse=never $tmp/sparse600 $tmp/pt" /dev/null >"$tmp/tty.out" 2>&1
check "--progress by default on a terminal" grep -q 'files.*/s' "$tmp/tty.out"
check "--progress: nothing left on the line at the end" \
	test "$(tail -c 4 "$tmp/tty.out" | od -An -c | tr -d ' ')" = '\r033[K'
rm -f "$tmp/sparse600" "$tmp/pt"
if [[ $(stat -f -c %T "$tmp") == ext2/ext3 ]]; then
	same_as_cp "--reflink=always where there is no reflink" --reflink=always f x
fi

# --- cp's messages for the user's mistakes ------------------------------------
same_as_cp "no operand"
same_as_cp "no destination" f
same_as_cp "same file" f f
same_as_cp "into itself" -r d d/sub
same_as_cp "bad short option" -z f g
same_as_cp "bad long option" --zz f g
same_as_cp "no such source" nofile g
same_as_cp "a directory without -r" d x
same_as_cp "a directory over a file" -r d f
same_as_cp "a file over a directory" f dd
same_as_cp "no parent (file)" f nodir/x
same_as_cp "no parent (directory)" -r d nodir/x
same_as_cp "several sources, no such target" f g h
same_as_cp "several sources, target a file" f g d/sub/h
same_as_cp "-t a file" -t f g
same_as_cp "bad --reflink" --reflink=bad f g
same_as_cp "bad --sparse" --sparse=bad f g
same_as_cp "a file where a directory is needed" -r d e
check "--help" "$ucp" --help >/dev/null
check "--version" "$ucp" --version >/dev/null

# --- an unreadable source, a file in the way ----------------------------------
mkdir -p "$tmp/u/src/closed" && echo ok >"$tmp/u/src/readable" && echo no >"$tmp/u/src/secret"
chmod 0 "$tmp/u/src/secret" "$tmp/u/src/closed"
chmod 0777 "$tmp/u" "$tmp"
as_user=()
[[ $(id -u) == 0 ]] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
err=$(cd "$tmp/u" && "${as_user[@]}" "$ucp" -r src dst 2>&1)
rc=$?
check "unreadable: exit 1" test $rc = 1
check "unreadable file: cp's words" grep -qx "ucp: cannot open 'src/secret' for reading: Permission denied" <<<"$err"
check "unreadable directory: cp's words" grep -qx "ucp: cannot open directory 'src/closed': Permission denied" <<<"$err"
check "unreadable: the rest copied" cmp -s "$tmp/u/src/readable" "$tmp/u/dst/readable"
check "unreadable: no file, no temporary" test ! -e "$tmp/u/dst/secret" -a -z "$(find "$tmp/u/dst" -name '.ucp-*')"

# --- signals -------------------------------------------------------------------
# 2,000 files: their -v lines are several times a pipe's 64 KiB, so once
# the reader stops, ucp waits on its stdout and cannot finish the copy
# before the signal is seen.
mkdir -p "$tmp/sig/src"
python3 -c '
import os, sys
for i in range(2000):
    with open("%s/f%04d" % (sys.argv[1], i), "wb") as f: f.write(os.urandom(5000))
' "$tmp/sig/src"
truncate -s 3G "$tmp/sig/huge"

# interrupt SIGNAL AFTER ARGS...: run ucp ARGS with -v into a FIFO, send
# SIGNAL once AFTER lines came (0: at its first progress redraw, which
# needs --progress), then drain; sets rc and err.
interrupt() {
	local sig=$1 after=$2 n=0 line pid
	shift 2
	rm -f "$tmp/sig/fifo" && mkfifo "$tmp/sig/fifo"
	if ((after > 0)); then
		"$ucp" -v --no-progress "$@" >"$tmp/sig/fifo" 2>"$tmp/sig/err" &
		pid=$!
		exec 3<"$tmp/sig/fifo"
		while ((n < after)) && IFS= read -r line <&3; do n=$((n + 1)); done
	else
		"$ucp" --progress "$@" 2>"$tmp/sig/fifo" >/dev/null &
		pid=$!
		exec 3<"$tmp/sig/fifo"
		IFS= read -r -d $'\r' line <&3
		IFS= read -r -d $'\r' line <&3
	fi
	kill -"$sig" $pid
	cat <&3 >"$tmp/sig/rest"
	exec 3<&-
	wait $pid
	rc=$?
	err=$(cat "$tmp/sig/err" 2>/dev/null; cat "$tmp/sig/rest")
}
for after in 1 300; do
	rm -rf "$tmp/sig/dst"
	interrupt INT $after -r "$tmp/sig/src" "$tmp/sig/dst"
	check "SIGINT after $after files: exit 130" test $rc = 130
	check "SIGINT after $after files: says how far" grep -q "^ucp: interrupted by SIGINT: [0-9]* files" <<<"$err"
	check "SIGINT after $after files: no partial, no temporary" all_whole "$tmp/sig/src" "$tmp/sig/dst"
	check "SIGINT after $after files: no temporary" no_temps "$tmp/sig/dst"
done
rm -rf "$tmp/sig/dst"
interrupt INT 0 --sparse=never "$tmp/sig/huge" "$tmp/sig/dst"
check "SIGINT in a big file: exit 130" test $rc = 130
check "SIGINT in a big file: no partial file" test ! -e "$tmp/sig/dst"
check "SIGINT in a big file: no temporary" no_temps "$tmp/sig"
rm -rf "$tmp/sig/dst"
interrupt TERM 100 -r "$tmp/sig/src" "$tmp/sig/dst"
check "SIGTERM: exit 143" test $rc = 143
check "SIGTERM: says how far" grep -q "^ucp: interrupted by SIGTERM" <<<"$err"
check "SIGTERM: no partial, no temporary" all_whole "$tmp/sig/src" "$tmp/sig/dst"

echo "passed $passed, failed $failed"
exit $((failed > 0))
