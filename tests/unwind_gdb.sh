#!/usr/bin/env bash
# gdb unwinds a task's stack down to its entry and stops there cleanly
# (core/switch_x86_64.S: CFI on the switch, `.cfi_undefined rip` on the
# task's first frame).  Runs tests/unwind_target.c under gdb, batch mode:
#
#   1. stopped inside a task that was resumed by the switch, `bt` reads
#      unwind_break_here <- unwind_middle <- unwind_task <- task_entry <-
#      uco__ctx_start and ends there: nothing after it, no "??" frame, no
#      "Backtrace stopped" complaint;
#   2. stopped in the middle of uco__switch, once right after the stack
#      pointer is moved to the target's stack and once on its final `ret`,
#      for several switches: `bt` is clean there too (it shows the target's
#      chain) and ends at a task's uco__ctx_start or at the thread's start.
#
# Usage: unwind_gdb.sh PROGRAM.  Without gdb (Debian package gdb) or when
# ptrace is not allowed here, a counted skip (77).
set -u

prog=$1
if ! command -v gdb >/dev/null 2>&1; then
	echo "unwind_gdb: gdb not found (Debian package gdb): skipped"
	exit 77
fi

script=$(mktemp)
out=$(mktemp)
trap 'rm -f "$script" "$out"' EXIT

{
	cat <<'GDB'
set pagination off
set confirm off
set width 0
set print frame-arguments none
set debuginfod enabled off
set startup-with-shell off
break uco__switch
run
GDB
	for i in 1 2 3 4 5 6; do
		((i > 1)) && echo continue
		cat <<'GDB'
set $uco_target = $rsi
while $rsp != $uco_target
  stepi
end
echo ===BT switched===\n
bt
echo ===END===\n
while *(unsigned char *)$pc != 0xc3
  stepi
end
echo ===BT ret===\n
bt
echo ===END===\n
GDB
	done
	cat <<'GDB'
delete
break unwind_break_here
continue
echo ===BT task===\n
bt
echo ===END===\n
GDB
	echo "kill"
} >"$script"

gdb -nx -batch -x "$script" "$prog" >"$out" 2>&1
if grep -q "ptrace: Operation not permitted\|Could not trace the inferior\|Cannot insert breakpoint" "$out"; then
	echo "unwind_gdb: gdb cannot trace here (ptrace refused): skipped"
	exit 77
fi

failed=0
fail() {
	echo "unwind_gdb: FAIL: $*"
	failed=1
}

# Print section $2 (0-based occurrence) of kind $1.
section() {
	awk -v want="===BT $1===" -v nth="$2" '
		$0 == want { n++; on = (n - 1 == nth); next }
		/^===END===$/ { on = 0 }
		on && /^#[0-9]/ { print }' "$out"
}

check_clean() { # kind nth what
	local bt
	bt=$(section "$1" "$2")
	if [[ -z $bt ]]; then
		fail "$3: no backtrace"
		return
	fi
	if grep -q '?? ' <<<"$bt"; then
		fail "$3: a frame gdb cannot name:"$'\n'"$bt"
	fi
	if ! tail -n1 <<<"$bt" | grep -Eq ' (uco__ctx_start|start_thread|clone3?|_start|__libc_start_main[_a-z]*|__libc_start_call_main|main) '; then
		fail "$3: does not end at a task's entry or a thread's start:"$'\n'"$bt"
	fi
	echo "$3:"
	echo "$bt"
}

grep -q "Backtrace stopped" "$out" && fail "gdb stopped a backtrace early: $(grep 'Backtrace stopped' "$out" | head -n1)"

bt=$(section task 0)
want=(unwind_break_here unwind_middle unwind_task task_entry uco__ctx_start)
got=()
while read -r _ a b c _; do
	# "#0  fn (...) at ..." or "#1  0x... in fn (...) at ..."
	if [[ $b == in ]]; then got+=("$c"); else got+=("$a"); fi
done <<<"$bt"
if [[ "${got[*]}" != "${want[*]}" ]]; then
	fail "task backtrace is '${got[*]}', want '${want[*]}':"$'\n'"$bt"
	sed -n 1,80p "$out"
else
	echo "task backtrace: ${got[*]}"
fi

n=0
for i in 0 1 2 3 4 5; do
	for kind in switched ret; do
		check_clean "$kind" "$i" "inside uco__switch ($kind, switch $((i + 1)))"
		n=$((n + 1))
	done
done

# At least one of those switches resumed a task that had run (not a fresh
# one): its chain, seen from inside the switch, reaches back to the task.
if ! grep -A12 '^===BT switched===' "$out" | grep -q ' in unwind_middle '; then
	fail "no mid-switch backtrace showed a resumed task's own frames"
fi

if ((failed)); then
	echo "--- gdb output ---"
	cat "$out"
	exit 1
fi
echo "unwind_gdb: 1 task backtrace and $n mid-switch backtraces clean"
