#!/usr/bin/env python3
"""Turn the RESULT lines of uco's benchmarks and their peers into a report.

Input: files (or stdin) holding lines of the form

    RESULT group=<g> name=<n> impl=<impl> value=<number> unit=<unit>

Lines that do not start with RESULT are ignored, so whole program logs can be
fed in.  A figure is identified by (group, name, unit); the line with
impl=uco is uco's value, every other impl is a peer.

Output:
  * a table on stdout: per figure, uco's value, each peer's value, the ratio
    uco/peer and which side is better (for times, sizes and anything else
    lower is better; for rates -- units ending in "/s" -- higher is better);
  * one machine-readable line per (uco figure, peer) pair:
        BENCH group=... name=... value=... unit=... peer=... peer_value=... ratio=...
    (ratio = uco value / peer value, 3 significant digits; a uco figure with
    no peer gets peer=none peer_value=- ratio=-);
  * --json PATH: everything above as JSON;
  * --png PATH: a bar chart, one panel per figure (needs matplotlib; skipped
    with a note without it).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import sys

UCO = "uco"
REQUIRED = ("group", "name", "impl", "value", "unit")


def parse(lines, source):
    """Yield result dicts from RESULT lines; warn about malformed ones."""
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line.startswith("RESULT"):
            continue
        fields = {}
        for tok in line.split()[1:]:
            key, sep, val = tok.partition("=")
            if sep:
                fields[key] = val
        missing = [k for k in REQUIRED if not fields.get(k)]
        if missing:
            warn(f"{source}:{lineno}: RESULT line without {', '.join(missing)}: {line}")
            continue
        try:
            number = float(fields["value"])
        except ValueError:
            warn(f"{source}:{lineno}: value is not a number: {line}")
            continue
        if not math.isfinite(number):
            warn(f"{source}:{lineno}: value is not finite: {line}")
            continue
        yield {
            "group": fields["group"],
            "name": fields["name"],
            "impl": fields["impl"],
            "unit": fields["unit"],
            "value": number,
            "text": fields["value"],  # as printed, for the BENCH lines
        }


def warn(msg):
    print(f"benchreport: {msg}", file=sys.stderr)


def higher_is_better(unit):
    """Rates (ops/s, req/s, MB/s) are better high; times, sizes low."""
    return unit.endswith("/s")


def sig3(x):
    """x to 3 significant digits, without exponent notation."""
    if x == 0:
        return "0"
    digits = 2 - int(math.floor(math.log10(abs(x))))
    rounded = round(x, digits)
    # Rounding can carry into a new digit (9.996 -> 10.0): recompute.
    if rounded != 0:
        digits = 2 - int(math.floor(math.log10(abs(rounded))))
        rounded = round(x, digits)
    if digits <= 0:
        return str(int(rounded))
    return f"{rounded:.{digits}f}"


def collect(results):
    """Group results into figures: (group, name, unit) -> {impl: result}."""
    figures = {}
    for r in results:
        key = (r["group"], r["name"], r["unit"])
        impls = figures.setdefault(key, {})
        if r["impl"] in impls:
            warn(f"duplicate figure {r['group']}/{r['name']} for {r['impl']}: "
                 f"keeping {impls[r['impl']]['text']}, ignoring {r['text']}")
            continue
        impls[r["impl"]] = r
    return figures


def compare(figures):
    """One comparison per (figure, peer), plus uco figures without a peer and
    peer figures without uco (those get value None)."""
    rows = []
    for (group, name, unit), impls in figures.items():
        uco = impls.get(UCO)
        peers = [i for i in impls if i != UCO]
        better = "higher" if higher_is_better(unit) else "lower"
        if not peers:
            rows.append(dict(group=group, name=name, unit=unit, better=better,
                             value=uco["value"], value_text=uco["text"],
                             peer=None, peer_value=None, peer_value_text=None,
                             ratio=None))
            continue
        for p in peers:
            peer = impls[p]
            ratio = None
            if uco is not None and peer["value"] != 0:
                ratio = uco["value"] / peer["value"]
            rows.append(dict(group=group, name=name, unit=unit, better=better,
                             value=uco["value"] if uco else None,
                             value_text=uco["text"] if uco else None,
                             peer=p, peer_value=peer["value"],
                             peer_value_text=peer["text"], ratio=ratio))
    return rows


def verdict(row):
    """Which side wins, and by how much, in words."""
    ratio = row["ratio"]
    if ratio is None:
        return ""
    if ratio == 0:
        return "uco better" if row["better"] == "lower" else "peer better"
    uco_wins = ratio < 1 if row["better"] == "lower" else ratio > 1
    factor = ratio if ratio >= 1 else 1 / ratio
    if sig3(factor) == "1.00":
        return "even"
    return f"{'uco' if uco_wins else 'peer'} {sig3(factor)}x better"


def print_table(rows, out):
    header = ("group", "name", "unit", "better", "uco", "peer", "peer value",
              "uco/peer", "verdict")
    table = []
    last = None
    for r in rows:
        key = (r["group"], r["name"], r["unit"])
        first = key != last
        last = key
        table.append((
            r["group"] if first else "",
            r["name"] if first else "",
            r["unit"] if first else "",
            f"{r['better']} is better" if first else "",
            (r["value_text"] or "-") if first else "",
            r["peer"] or "-",
            r["peer_value_text"] or "-",
            sig3(r["ratio"]) if r["ratio"] is not None else "-",
            verdict(r),
        ))
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h)
              for i, h in enumerate(header)]
    numeric = {4, 6, 7}

    def fmt(cells):
        parts = []
        for i, c in enumerate(cells):
            parts.append(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    print(fmt(header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for t in table:
        print(fmt(t), file=out)


def bench_lines(rows):
    """The machine-readable lines: one per uco figure and peer."""
    lines = []
    for r in rows:
        if r["value"] is None:
            continue  # a peer figure uco does not report
        if r["peer"] is None:
            peer, pv, ratio = "none", "-", "-"
        else:
            peer, pv = r["peer"], r["peer_value_text"]
            ratio = sig3(r["ratio"]) if r["ratio"] is not None else "-"
        lines.append(f"BENCH group={r['group']} name={r['name']} "
                     f"value={r['value_text']} unit={r['unit']} "
                     f"peer={peer} peer_value={pv} ratio={ratio}")
    return lines


def write_json(path, results, rows, args):
    doc = {
        "generated": datetime.datetime.now(datetime.timezone.utc)
                     .isoformat(timespec="seconds"),
        "host": {
            "kernel": platform.release(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "quick": args.quick,
        "notes": args.note,
        "results": [{k: r[k] for k in ("group", "name", "impl", "value", "unit")}
                    for r in results],
        "comparisons": [
            {
                "group": r["group"], "name": r["name"], "unit": r["unit"],
                "better": r["better"], "uco": r["value"], "peer": r["peer"],
                "peer_value": r["peer_value"],
                "ratio": float(sig3(r["ratio"])) if r["ratio"] is not None else None,
            }
            for r in rows
        ],
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_png(path, figures, quick):
    """A bar chart, one panel per figure; returns False when matplotlib is
    missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False

    keys = list(figures)
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.6 * nrows),
                             squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys):
        group, name, unit = key
        impls = figures[key]
        order = ([UCO] if UCO in impls else []) + [i for i in impls if i != UCO]
        values = [impls[i]["value"] for i in order]
        colors = ["tab:red" if i == UCO else "tab:gray" for i in order]
        bars = ax.bar(range(len(order)), values, color=colors)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=20, ha="right")
        positive = [v for v in values if v > 0]
        if positive and len(positive) == len(values) and \
                max(positive) / min(positive) >= 30:
            ax.set_yscale("log")
        for bar, i in zip(bars, order):
            ax.annotate(impls[i]["text"], (bar.get_x() + bar.get_width() / 2,
                                           bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        better = "higher" if higher_is_better(unit) else "lower"
        ax.set_title(f"{group} / {name}", fontsize=10)
        ax.set_ylabel(f"{unit} ({better} is better)", fontsize=9)
        ax.margins(y=0.15)
    fig.suptitle("uco vs peers" + (" (--quick)" if quick else ""))
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def main():
    ap = argparse.ArgumentParser(
        description="Report uco benchmark RESULT lines against their peers.")
    ap.add_argument("files", nargs="*",
                    help="files with RESULT lines (default: stdin)")
    ap.add_argument("--json", metavar="PATH", help="write the report as JSON")
    ap.add_argument("--png", metavar="PATH", help="write a bar chart")
    ap.add_argument("--quick", action="store_true",
                    help="the results come from a --quick run (recorded)")
    ap.add_argument("--note", action="append", default=[], metavar="TEXT",
                    help="a note to record in the JSON (e.g. a skipped peer)")
    args = ap.parse_args()

    results = []
    if args.files:
        for path in args.files:
            try:
                with open(path) as f:
                    results.extend(parse(f, path))
            except OSError as e:
                sys.exit(f"benchreport: {path}: {e.strerror}")
    else:
        results.extend(parse(sys.stdin, "<stdin>"))

    if not results:
        print("benchreport: no RESULT lines: nothing to report", file=sys.stderr)
        return 1

    figures = collect(results)
    rows = compare(figures)
    print_table(rows, sys.stdout)
    if not any(r["impl"] == UCO for r in results):
        print("\n(no uco results: only the peers ran)")
    lines = bench_lines(rows)
    if lines:
        print()
        for line in lines:
            print(line)

    if args.json:
        write_json(args.json, results, rows, args)
        print(f"\nwrote {args.json}")
    if args.png:
        if write_png(args.png, figures, args.quick):
            print(f"wrote {args.png}")
        else:
            print("matplotlib is not installed (Debian: python3-matplotlib): "
                  f"no chart written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
