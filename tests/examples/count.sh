#!/bin/sh
# The table for issue 14: lines of each asyncio original (NAME.py) against
# its uco port (NAME.c): every line (wc -l), and the lines that are not
# blank or only a comment.
#   tests/examples/count.sh
cd "$(dirname "$0")" || exit 1
code() { # file, pattern of a comment-only line
	grep -c -v -E "^[[:space:]]*\$|$2" "$1"
}
printf '%-18s %9s %9s %9s %9s\n' program py-lines c-lines py-code c-code
tp=0 tc=0 cp=0 cc=0
for c in *.c; do
	n=${c%.c}
	lp=$(wc -l <"$n.py") lc=$(wc -l <"$c")
	kp=$(code "$n.py" '^[[:space:]]*#') kc=$(code "$c" '^[[:space:]]*(//|/\*|\*)')
	tp=$((tp + lp)) tc=$((tc + lc)) cp=$((cp + kp)) cc=$((cc + kc))
	printf '%-18s %9d %9d %9d %9d\n' "$n" "$lp" "$lc" "$kp" "$kc"
done
printf '%-18s %9d %9d %9d %9d\n' total "$tp" "$tc" "$cp" "$cc"
