#!/usr/bin/env python3
"""Turn the RESULT lines of uco's benchmarks and their peers into a report.

Input: files (or stdin) holding lines of the form

    RESULT group=<g> name=<n> impl=<impl> value=<number> unit=<unit>

Lines that do not start with RESULT are ignored, so whole program logs can be
fed in.  A figure is identified by (group, name, unit); the line with
impl=uco is uco's value, every other impl is a peer.  The same (figure, impl)
may come several times: each line is one repetition (tools/bench runs every
program several times), and the report uses their median, with the spread
(half the range between the lowest and the highest, as a percentage of the
median) beside it.

Output:
  * on stdout, one table per group (in the order the groups first appear):
    per figure, uco's median and spread, each peer's, the ratio uco/peer and
    the verdict; for times, sizes and anything else lower is better, for
    rates (units ending in "/s") higher is better.  A difference smaller
    than the spread of the runs (the ranges overlap) is "even (noise)";
  * a summary, one line per group: where uco stands;
  * --verbose: also one machine-readable line per (uco figure, peer):
        BENCH group=... name=... value=... unit=... peer=... peer_value=... ratio=...
    (medians; ratio = uco / peer, 3 significant digits; a uco figure with
    no peer gets peer=none peer_value=- ratio=-).  They are always in the
    JSON;
  * --json PATH: everything (every repetition, the medians and spreads, the
    comparisons, the BENCH lines, the summary, the notes) as JSON;
  * --png PATH: a bar chart of the medians with the range of the runs, one
    panel per figure (needs matplotlib; skipped with a note without it).

--title GROUP=TEXT gives a group's table a heading (tools/bench passes the
ones its suites declare).
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys

UCO = "uco"
REQUIRED = ("group", "name", "impl", "value", "unit")


def warn(msg):
    print(f"benchreport: {msg}", file=sys.stderr)


def parse(lines, source):
    """Yield result dicts from RESULT lines; warn about malformed ones."""
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line.startswith("RESULT "):
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
        yield {k: fields[k] for k in ("group", "name", "impl", "unit")} | \
            {"value": number}


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


class Sample:
    """The repetitions of one figure for one impl."""

    def __init__(self):
        self.values = []

    @property
    def median(self):
        return statistics.median(self.values)

    @property
    def low(self):
        return min(self.values)

    @property
    def high(self):
        return max(self.values)

    @property
    def spread(self):
        """Half the range, relative to the median (None with one run)."""
        if len(self.values) < 2 or self.median == 0:
            return None
        return (self.high - self.low) / 2 / abs(self.median)

    def text(self):
        s = sig3(self.median)
        if self.spread is not None:
            s += f" ±{self.spread * 100:.0f}%"
        return s


def collect(results):
    """groups: {group: {(name, unit): {impl: Sample}}}, in input order."""
    groups = {}
    for r in results:
        figs = groups.setdefault(r["group"], {})
        impls = figs.setdefault((r["name"], r["unit"]), {})
        impls.setdefault(r["impl"], Sample()).values.append(r["value"])
    return groups


def compare(uco, peer, unit):
    """One comparison: ratio uco/peer of the medians, and the verdict."""
    better = "higher" if higher_is_better(unit) else "lower"
    row = {"better": better, "ratio": None, "verdict": "", "uco_wins": None,
           "factor": None}
    if uco is None or peer is None or peer.median == 0:
        return row
    ratio = uco.median / peer.median
    row["ratio"] = ratio
    if ratio == 0:
        row["uco_wins"] = better == "lower"
        row["verdict"] = "uco better" if row["uco_wins"] else "peer better"
        return row
    uco_wins = ratio < 1 if better == "lower" else ratio > 1
    factor = ratio if ratio >= 1 else 1 / ratio
    row["factor"] = factor if uco_wins else 1 / factor
    overlap = (len(uco.values) > 1 and len(peer.values) > 1 and
               uco.low <= peer.high and peer.low <= uco.high)
    if sig3(factor) == "1.00":
        row["verdict"] = "even"
    elif overlap:
        row["verdict"] = "even (noise)"
    else:
        row["uco_wins"] = uco_wins
        row["verdict"] = f"{'uco' if uco_wins else 'peer'} {sig3(factor)}x better"
    return row


def rows_of(group, figs):
    """The comparisons of one group: one row per (figure, peer), and one
    per uco figure without a peer, and per peer figure without uco."""
    rows = []
    for (name, unit), impls in figs.items():
        uco = impls.get(UCO)
        peers = [i for i in impls if i != UCO] or [None]
        for p in peers:
            peer = impls[p] if p else None
            c = compare(uco, peer, unit)
            rows.append(dict(group=group, name=name, unit=unit, uco=uco,
                             peer=p, peer_sample=peer, **c))
    return rows


def fmt_table(header, table, numeric, indent="  "):
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h)
              for i, h in enumerate(header)]

    def fmt(cells):
        parts = [c.rjust(widths[i]) if i in numeric else c.ljust(widths[i])
                 for i, c in enumerate(cells)]
        return (indent + "  ".join(parts)).rstrip()

    lines = [fmt(header), indent + "  ".join("-" * w for w in widths)]
    lines += [fmt(t) for t in table]
    return lines


def group_table(group, rows, title, reps):
    """The lines of one group's table."""
    head = f"{group}: {title}" if title else group
    lines = [head + f"  [{reps}]"]
    header = ("figure", "unit", "better", "uco", "peer", "peer value",
              "uco/peer", "verdict")
    table = []
    last = None
    for r in rows:
        first = (r["name"], r["unit"]) != last
        last = (r["name"], r["unit"])
        table.append((
            r["name"] if first else "",
            r["unit"] if first else "",
            r["better"] if first else "",
            (r["uco"].text() if r["uco"] else "-") if first else "",
            r["peer"] or "-",
            r["peer_sample"].text() if r["peer_sample"] else "-",
            sig3(r["ratio"]) if r["ratio"] is not None else "-",
            r["verdict"],
        ))
    return lines + fmt_table(header, table, {3, 5, 6})


def reps_text(figs):
    counts = [len(s.values) for impls in figs.values()
              for s in impls.values()]
    most = max(set(counts), key=counts.count)
    if most == 1:
        return "one run each"
    return f"median of {most} runs, ± half their range"


def summary_line(group, rows):
    """Where uco stands in a group, in one line."""
    compared = [r for r in rows if r["peer"] and r["ratio"] is not None]
    alone = {(r["name"], r["unit"]) for r in rows
             if r["peer"] is None and r["uco"] is not None}
    if not compared:
        if alone:
            return f"{len(alone)} uco figure(s), no peer to compare with"
        return "peer figures only (uco did not report)"
    ahead = sum(1 for r in compared if r["uco_wins"] is True)
    behind = sum(1 for r in compared if r["uco_wins"] is False)
    even = len(compared) - ahead - behind
    factors = [r["factor"] for r in compared if r["factor"]]
    parts = [f"ahead in {ahead} of {len(compared)}, even in {even}, "
             f"behind in {behind}"]
    if factors:
        g = math.exp(sum(math.log(f) for f in factors) / len(factors))
        parts[0] += (f" (geomean {sig3(g)}x better)" if g >= 1 else
                     f" (geomean {sig3(1 / g)}x worse)")
        wins = [r for r in compared if r["uco_wins"] is True]
        losses = [r for r in compared if r["uco_wins"] is False]
        if wins:
            best = max(wins, key=lambda r: r["factor"])
            parts.append(f"best: {best['name']} vs {best['peer']} "
                         f"{sig3(best['factor'])}x better")
        if losses:
            worst = min(losses, key=lambda r: r["factor"])
            parts.append(f"worst: {worst['name']} vs {worst['peer']} "
                         f"{sig3(1 / worst['factor'])}x worse")
    return "; ".join(parts)


def bench_lines(rows):
    """The machine-readable lines: one per uco figure and peer."""
    lines = []
    for r in rows:
        if r["uco"] is None:
            continue  # a peer figure uco does not report
        value = sig3(r["uco"].median)
        if r["peer"] is None:
            peer, pv, ratio = "none", "-", "-"
        else:
            peer, pv = r["peer"], sig3(r["peer_sample"].median)
            ratio = sig3(r["ratio"]) if r["ratio"] is not None else "-"
        lines.append(f"BENCH group={r['group']} name={r['name']} "
                     f"value={value} unit={r['unit']} "
                     f"peer={peer} peer_value={pv} ratio={ratio}")
    return lines


def sample_json(s):
    if s is None:
        return None
    return {"median": s.median, "min": s.low, "max": s.high,
            "spread": s.spread, "runs": s.values}


def write_json(path, results, groups, rows, summary, lines, args):
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
        "titles": dict(args.title),
        # Every repetition, as read.
        "results": results,
        "figures": [
            {"group": g, "name": name, "unit": unit,
             "better": "higher" if higher_is_better(unit) else "lower",
             "impls": {i: sample_json(s) for i, s in impls.items()}}
            for g, figs in groups.items()
            for (name, unit), impls in figs.items()
        ],
        "comparisons": [
            {
                "group": r["group"], "name": r["name"], "unit": r["unit"],
                "better": r["better"],
                "uco": r["uco"].median if r["uco"] else None,
                "uco_spread": r["uco"].spread if r["uco"] else None,
                "peer": r["peer"],
                "peer_value": r["peer_sample"].median if r["peer_sample"] else None,
                "peer_spread": r["peer_sample"].spread if r["peer_sample"] else None,
                "ratio": float(sig3(r["ratio"])) if r["ratio"] is not None else None,
                "verdict": r["verdict"],
            }
            for r in rows
        ],
        "summary": summary,
        "bench_lines": lines,
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_png(path, groups, quick):
    """A bar chart of the medians, with the range of the runs, one panel per
    figure; returns False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False

    keys = [(g, name, unit) for g, figs in groups.items()
            for (name, unit) in figs]
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.6 * nrows),
                             squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, (group, name, unit) in zip(axes.flat, keys):
        impls = groups[group][(name, unit)]
        order = ([UCO] if UCO in impls else []) + [i for i in impls if i != UCO]
        medians = [impls[i].median for i in order]
        errs = [[impls[i].median - impls[i].low for i in order],
                [impls[i].high - impls[i].median for i in order]]
        colors = ["tab:red" if i == UCO else "tab:gray" for i in order]
        bars = ax.bar(range(len(order)), medians, color=colors, yerr=errs,
                      capsize=3, ecolor="black")
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=20, ha="right")
        positive = [v for v in medians if v > 0]
        if positive and len(positive) == len(medians) and \
                max(positive) / min(positive) >= 30:
            ax.set_yscale("log")
        for bar, i in zip(bars, order):
            ax.annotate(sig3(impls[i].median),
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        better = "higher" if higher_is_better(unit) else "lower"
        ax.set_title(f"{group} / {name}", fontsize=10)
        ax.set_ylabel(f"{unit} ({better} is better)", fontsize=9)
        ax.margins(y=0.15)
    fig.suptitle("uco vs peers: medians, bars span the runs" +
                 (" (--quick)" if quick else ""))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def title_arg(text):
    group, sep, title = text.partition("=")
    if not sep or not group:
        raise argparse.ArgumentTypeError("expected GROUP=TEXT")
    return group, title


def main():
    ap = argparse.ArgumentParser(
        description="Report uco benchmark RESULT lines against their peers.")
    ap.add_argument("files", nargs="*",
                    help="files with RESULT lines (default: stdin)")
    ap.add_argument("--json", metavar="PATH", help="write the report as JSON")
    ap.add_argument("--png", metavar="PATH", help="write a bar chart")
    ap.add_argument("--quick", action="store_true",
                    help="the results come from a --quick run (recorded)")
    ap.add_argument("--verbose", action="store_true",
                    help="print the BENCH lines too")
    ap.add_argument("--note", action="append", default=[], metavar="TEXT",
                    help="a note to record in the JSON (e.g. a skipped peer)")
    ap.add_argument("--title", action="append", default=[], type=title_arg,
                    metavar="GROUP=TEXT", help="a heading for a group's table")
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

    titles = dict(args.title)
    groups = collect(results)
    rows, summary = [], {}
    for group, figs in groups.items():
        grows = rows_of(group, figs)
        rows += grows
        print()
        print("\n".join(group_table(group, grows, titles.get(group),
                                    reps_text(figs))))
        summary[group] = summary_line(group, grows)
    if not any(r["impl"] == UCO for r in results):
        print("\n(no uco results: only the peers ran)")
    lines = bench_lines(rows)
    if args.verbose and lines:
        print()
        print("\n".join(lines))

    print("\nsummary: where uco stands (ratios of medians; \"even\" within "
          "the runs' spread)")
    width = max(len(g) for g in summary)
    for group, text in summary.items():
        print(f"  {group.ljust(width)}  {text}")

    if args.json:
        write_json(args.json, results, groups, rows, summary, lines, args)
    if args.png and not write_png(args.png, groups, args.quick):
        print("\nmatplotlib is not installed (Debian: python3-matplotlib): "
              f"no chart written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
