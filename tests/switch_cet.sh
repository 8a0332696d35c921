#!/usr/bin/env bash
# The x86-64 context switch built with -fcf-protection=full, as Ubuntu's and
# Fedora's compilers build everything by default.  core/switch_x86_64.S says
# what it supports (IBT) and what it does not (the shadow stack, SHSTK); this
# checks that its object and a program made with it say exactly that:
#
#   1. the switch object's GNU property note reads "x86 feature: IBT", and
#      never SHSTK;
#   2. every function in it starts with an endbr64 landing pad, and every
#      indirect jump in it is either `notrack` or absent (a tracked jump to a
#      return address, which has no endbr64, would fault under IBT);
#   3. the C objects of the same program claim IBT and SHSTK (the control:
#      the check above can fail), and linked together with the switch they
#      claim IBT only, so the program is not marked shadow-stack compatible;
#   4. the program (tests/switch_cross.c) runs and passes, built this way.
#
# Usage: switch_cet.sh SOURCE_ROOT WORK_DIR CC [CC args...]
set -u

if (($# < 3)); then
	echo "usage: switch_cet.sh SOURCE_ROOT WORK_DIR CC [CC args...]" >&2
	exit 2
fi
src=$1
work=$2
shift 2
cc=("$@")
flags=(-O2 -std=gnu17 -Wall -Wextra -Werror -fcf-protection=full
	-I "$src/core")
failed=0

fail() {
	echo "switch_cet: FAIL: $*"
	failed=1
}

for tool in readelf objdump; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "switch_cet: $tool not found (Debian package binutils)"
		exit 1
	fi
done

mkdir -p "$work" || exit 1
o=$work/switch_x86_64.o
if ! "${cc[@]}" "${flags[@]}" -c "$src/core/switch_x86_64.S" -o "$o" ||
	! "${cc[@]}" "${flags[@]}" -c "$src/core/switch.c" -o "$work/switch.o" ||
	! "${cc[@]}" "${flags[@]}" -c "$src/tests/switch_cross.c" \
		-o "$work/switch_cross.o"; then
	echo "switch_cet: FAIL: does not compile with -fcf-protection=full"
	exit 1
fi

# The x86 feature line of an object's notes, e.g. "IBT, SHSTK"; empty when
# it has none.
features() {
	readelf -n "$1" | sed -n 's/.*x86 feature: //p' | head -n 1
}

# 1. The note.
f=$(features "$o")
echo "switch_x86_64.o: x86 feature: ${f:-(none)}"
[[ $f == IBT ]] || fail "switch_x86_64.o claims '${f:-nothing}', expected 'IBT'"

# 2. Landing pads and untracked jumps.
dis=$(objdump -d --no-show-raw-insn "$o")
nopad=$(awk '
	/^[0-9a-f]+ <.*>:$/ { fn = $2; first = 1; next }
	first && NF >= 2 { first = 0; if ($2 != "endbr64") print fn }
' <<<"$dis")
if [[ -n $nopad ]]; then
	fail "functions without an endbr64 landing pad: ${nopad//$'\n'/ }"
else
	echo "every function starts with endbr64"
fi
tracked=$(grep -E '\sjmp\s+\*' <<<"$dis" | grep -v notrack)
if [[ -n $tracked ]]; then
	fail "indirect jumps IBT would track: $tracked"
else
	echo "no indirect jump needs a landing pad it lacks"
fi

# 3. The control, and the objects linked together.
c=$(features "$work/switch_cross.o")
echo "switch_cross.o (C, the control): x86 feature: ${c:-(none)}"
[[ $c == "IBT, SHSTK" ]] ||
	fail "the C object claims '${c:-nothing}': the compiler did not mark it"
if "${cc[@]}" -r -nostdlib "$work/switch_cross.o" "$work/switch.o" "$o" \
	-o "$work/linked.o"; then
	l=$(features "$work/linked.o")
	echo "C and switch linked: x86 feature: ${l:-(none)}"
	[[ $l == IBT ]] || fail "linked objects claim '${l:-nothing}', expected 'IBT'"
else
	fail "relocatable link failed"
fi

# 4. The program.
if "${cc[@]}" -fcf-protection=full "$work/switch_cross.o" "$work/switch.o" \
	"$o" -o "$work/switch_cross-cet"; then
	p=$(features "$work/switch_cross-cet")
	echo "program: x86 feature: ${p:-(none: the C library start files are unmarked)}"
	[[ $p != *SHSTK* ]] || fail "the program claims SHSTK"
	"$work/switch_cross-cet" || fail "switch_cross built with -fcf-protection=full"
else
	fail "link failed"
fi

exit "$failed"
