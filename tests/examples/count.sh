#!/bin/sh
# The table for issue 14: lines of each asyncio original against its uco
# port, counting non-blank lines that are not only a comment.
#   tests/examples/count.sh
cd "$(dirname "$0")" || exit 1
count() {
	grep -v -E '^[[:space:]]*$|^[[:space:]]*(#|//|/?\*)' "$1" | wc -l
}
printf '%-18s %7s %7s\n' program python c
tp=0 tc=0
for c in *.c; do
	n=${c%.c}
	p=$(count "$n.py") k=$(count "$c")
	tp=$((tp + p)) tc=$((tc + k))
	printf '%-18s %7d %7d\n' "$n" "$p" "$k"
done
printf '%-18s %7d %7d\n' total "$tp" "$tc"
