#!/usr/bin/env python3
"""Copy benchmark: ucp (tools/ucp.c) against cp, rsync, dd, cat and tar.

Run by tools/bench (or by hand):

    benchmarks/copy_bench.py --build build-release [--quick]
                             [--shapes big,small4k,mixed,empty]
                             [--states warm,settled,cold] [--dir DIR]

Data, generated under a temporary directory on the disk (--dir, default
/var/tmp), never on tmpfs:

    big      one 2 GiB file of random bytes        (--quick: 128 MiB)
    small4k  20,000 files of 4 KiB in 100 dirs     (--quick: 1,000 in 10)
    mixed    2,000 files, 1 KiB - 8 MiB, log-uniform (--quick: 100)
    empty    100,000 empty files in 100 dirs        (--quick: 5,000)

States: warm (the source in the page cache), settled (sync, then a 2 s
pause, before each run) and cold (sync and drop_caches before each run, the
peers cold as well), the last only when /proc/sys/vm/drop_caches is
writable (--quick: warm only).  Every run copies into a fresh destination; the previous one is
removed and synced away first, so no run pays for another's writeback.
Each figure is the best of two runs (--quick: one), the second round in
the opposite order.

Peers: cp (reflink=auto, copy_file_range), cp --reflink=never, and for one
file dd bs=1M and cat; for trees cp -a, rsync -a and tar | tar against
ucp -a.  A peer that is not installed is skipped with a note.

Prints (impl=uco is ucp; times in seconds, lower is better):

  RESULT group=copy name=<shape>_<state>      impl=uco|cp|cp_never|dd|cat value=<s> unit=s
  RESULT group=copy name=<shape>_<state>_a    impl=uco|cp_a|rsync_a|tar  value=<s> unit=s
  RESULT group=copy name=rss_<shape>          impl=uco|cp value=<peak RSS> unit=MiB
  RESULT group=copy name=syscalls_per_file_<shape> impl=uco|cp value=<n> unit=syscalls/file

and on stderr a line per run, the load average when the run started, and
a summary of the speed-ups (cp time / ucp time) against the targets.
"""
import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

TARGETS = {"big": 1.0, "small4k": 2.5, "mixed": 1.5, "empty": 2.0}
RSS_TARGET_MIB = 64


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def result(name, impl, value, unit):
    print(f"RESULT group=copy name={name} impl={impl} value={value:.4g} unit={unit}",
          flush=True)


# ---- data -------------------------------------------------------------------

def make_big(root, size):
    os.makedirs(root)
    with open(os.path.join(root, "big"), "wb") as f:
        chunk = os.urandom(1 << 20)
        for i in range(size >> 20):
            # A different MiB each time (no dedup), cheaply.
            f.write(chunk[i % 4096:] + chunk[:i % 4096])


def make_tree(root, files, dirs, size_of):
    os.makedirs(root)
    rnd = random.Random(42)
    blob = os.urandom(8 << 20)
    for d in range(dirs):
        p = os.path.join(root, f"d{d:03d}")
        os.mkdir(p)
        for i in range(files // dirs):
            n = size_of(rnd)
            off = rnd.randrange(len(blob) - n + 1)
            with open(os.path.join(p, f"f{i:05d}"), "wb") as f:
                if n:
                    f.write(blob[off:off + n])


def make_data(base, shape, quick):
    root = os.path.join(base, "src-" + shape)
    if shape == "big":
        make_big(root, (128 if quick else 2048) << 20)
        return os.path.join(root, "big"), 1
    if shape == "small4k":
        n, d = (1000, 10) if quick else (20000, 100)
        make_tree(root, n, d, lambda r: 4096)
    elif shape == "mixed":
        n, d = (100, 10) if quick else (2000, 40)
        make_tree(root, n, d,
                  lambda r: int(math.exp(r.uniform(math.log(1024), math.log(8 << 20)))))
    elif shape == "empty":
        n, d = (5000, 50) if quick else (100000, 100)
        make_tree(root, n, d, lambda r: 0)
    return root, n


# ---- running ----------------------------------------------------------------

def sh(cmd):
    subprocess.run(cmd, shell=True, check=False)


def can_drop_caches():
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
        return True
    except OSError:
        return False


def prepare(state, src, dst):
    if os.path.lexists(dst):
        sh(f"rm -rf '{dst}'")
    os.sync()
    os.sync()
    if state == "settled":
        time.sleep(2)  # the state being measured: writeback has settled
    elif state == "cold":
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
    elif state == "warm":
        # The source in the page cache.
        sh(f"tar -cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' >/dev/null")


def timed(argv, shell=False):
    """Run a command; (seconds, its peak RSS in MiB).  The RSS comes from
    GNU time: a child forked from this Python process would report
    Python's own high-water mark, which survives exec."""
    if shell:
        argv = ["sh", "-c", argv]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-o", rf.name, "-f", "%M"] + argv,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.monotonic() - t0
        if p.returncode != 0:
            err = p.stderr.decode(errors="replace").strip()[:300]
            raise RuntimeError(f"{argv}: exit {p.returncode}: {err}")
        lines = rf.read().split()
    return dt, int(lines[-1]) / 1024 if lines else float("nan")


def peers_for(shape, ucp, src, dst):
    """(impl, argv or shell string, suffix) for one shape."""
    q = lambda s: "'" + s + "'"
    if shape == "big":
        out = [("uco", [ucp, "--no-progress", src, dst], ""),
               ("cp", ["cp", src, dst], ""),
               ("cp_never", ["cp", "--reflink=never", src, dst], ""),
               ("dd", f"dd if={q(src)} of={q(dst)} bs=1M status=none", ""),
               ("cat", f"cat {q(src)} > {q(dst)}", "")]
        return out
    out = [("uco", [ucp, "--no-progress", "-r", src, dst], ""),
           ("cp", ["cp", "-r", src, dst], ""),
           ("cp_never", ["cp", "-r", "--reflink=never", src, dst], ""),
           ("uco", [ucp, "--no-progress", "-a", src, dst], "_a"),
           ("cp_a", ["cp", "-a", src, dst], "_a")]
    if shutil.which("rsync"):
        out.append(("rsync_a", ["rsync", "-a", src + "/", dst], "_a"))
    if shutil.which("tar"):
        out.append(("tar", f"mkdir {q(dst)} && tar -C {q(src)} -cf - . | "
                           f"tar -C {q(dst)} -xpf -", "_a"))
    return out


def syscalls(argv):
    """System calls made by a command and its threads (strace -f -c)."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        subprocess.run(["strace", "-f", "-c", "-o", f.name] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        text = f.read()
    # The last line: "100.00 secs usecs/call calls [errors] total".
    for line in text.splitlines():
        f = line.split()
        if f and f[-1] == "total" and len(f) >= 5:
            return int(f[3])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-release")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shapes", default="big,small4k,mixed,empty")
    ap.add_argument("--states", default="warm,settled,cold")
    ap.add_argument("--dir", default="/var/tmp")
    args = ap.parse_args()

    ucp = os.path.abspath(os.path.join(args.build, "tools", "ucp"))
    if not os.access(ucp, os.X_OK):
        print(f"note: copy benchmark skipped: no {ucp}")
        return 0
    states = args.states.split(",")
    if "cold" in states and not can_drop_caches():
        print("note: copy benchmark: /proc/sys/vm/drop_caches is not writable: "
              "no cold-cache figures")
        states.remove("cold")
    if args.quick:  # tools/bench --quick has two minutes for everything
        states = [s for s in states if s == "warm"]
    reps = 1 if args.quick else 2
    base = tempfile.mkdtemp(prefix="uco-copy-bench-", dir=args.dir)
    speedups = {}
    try:
        for shape in args.shapes.split(","):
            log(f"copy: generating {shape} ...")
            src, nfiles = make_data(base, shape, args.quick)
            # Trees of many inodes go to a fresh destination per run, all
            # removed once the state is done: on ext4, allocating inodes
            # right after many were freed is several times slower, which
            # would make the order of the runs the result.
            fresh = shape in ("small4k", "empty")
            for state in states:
                best = {}
                dst = os.path.join(base, "dst")
                runs = [(rep, p) for rep in range(reps)
                        for p in peers_for(shape, ucp, src, dst)]
                # The second round in the opposite order: on ext4, each
                # run's deletions slow the next one's inode allocation, so
                # going first is an advantage nobody should always get.
                runs = [r for r in runs if r[0] == 0] + \
                       [r for r in reversed(runs) if r[0] == 1]
                for k, (rep, (impl, cmd, suffix)) in enumerate(runs):
                    if fresh:
                        d = os.path.join(base, f"dst{k}")
                        cmd = [d if a == dst else a for a in cmd] \
                            if isinstance(cmd, list) else cmd.replace(f"'{dst}'", f"'{d}'")
                    if True:
                        prepare(state, src, dst)
                        load = os.getloadavg()[0]
                        try:
                            dt, rss = timed(cmd, shell=isinstance(cmd, str))
                        except RuntimeError as e:
                            print(f"note: copy {shape}/{state}: {impl}{suffix} failed: {e}")
                            continue
                        log(f"copy: {shape:8s} {state:8s} {impl + suffix:10s} "
                            f"{dt:8.3f} s  rss {rss:6.1f} MiB  load {load:.1f}")
                        key = (impl, suffix)
                        if key not in best or dt < best[key][0]:
                            best[key] = (dt, rss)
                if fresh:
                    sh(f"rm -rf '{base}'/dst*")
                for (impl, suffix), (dt, rss) in best.items():
                    result(f"{shape}_{state}{suffix}", impl, dt, "s")
                if ("uco", "") in best and ("cp", "") in best:
                    speedups[(shape, state)] = best[("cp", "")][0] / best[("uco", "")][0]
                if state == states[0]:
                    for impl in ("uco", "cp"):
                        if (impl, "") in best:
                            result(f"rss_{shape}", impl, best[(impl, "")][1], "MiB")
            dst = os.path.join(base, "dst")
            # System calls per file, warm.
            if shutil.which("strace"):
                for impl, cmd in (("uco", [ucp, "--no-progress"] + (["-r"] if shape != "big" else [])),
                                  ("cp", ["cp"] + (["-r"] if shape != "big" else []))):
                    prepare("warm", src, dst)
                    n = syscalls(cmd + [src, dst])
                    if n is not None:
                        result(f"syscalls_per_file_{shape}", impl, n / nfiles,
                               "syscalls/file")
            else:
                print("note: strace not installed: no syscall counts")
            dst = os.path.join(base, "dst")
            sh(f"rm -rf '{src}' '{base}'/dst*")
            src_parent = os.path.join(base, "src-" + shape)
            if os.path.exists(src_parent):
                sh(f"rm -rf '{src_parent}'")
    finally:
        sh(f"rm -rf '{base}'")
    log("copy: speed-up, cp time / ucp time (target):")
    for (shape, state), s in speedups.items():
        t = TARGETS.get(shape, 1.0)
        log(f"copy:   {shape:8s} {state:8s} {s:5.2f}x  ({'met' if s >= t else 'NOT met'}: >= {t}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
