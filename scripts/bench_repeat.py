#!/usr/bin/env python3
"""tributary against polars, run after run: the ratios of issue 14 as medians, with their spread.

Usage (from the repository root, after scripts/bench.py generated the inputs):

    .venv/bin/python scripts/bench_repeat.py --tributary target/release/tributary \\
        --files bench-data/order_lines_1000mb_seed42.csv,bench-data/narrow_1000mb_seed42.csv --rounds 5 \\
        --out bench-results.md

scripts/bench.py runs each tool once per input, so on a machine whose speed moves between runs (this one's
does, by a third) one ratio can land either side of a target. Here every round runs tributary and polars
back to back on the same warm file, on all CPUs and then pinned to one (`taskset -c 0`, polars with
POLARS_MAX_THREADS=1), alternating which goes first. Each round gives a ratio: tributary / polars, wall time on
all CPUs and CPU time on one. The report gives each ratio's median over the rounds with its lowest and highest,
and tributary's own scaling (wall time pinned / wall time on all CPUs). Every run's rows are checked as
scripts/bench.py checks them (it uses that script's runner). The section is appended to --out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the runner and checks of scripts/bench.py)

TOOLS = ("tributary", "polars")


def expected_rows(src: Path) -> int:
    """The data rows scripts/bench.py counted and cached beside the input (`<file>.rows`: size, then rows)."""
    cached = src.with_name(src.name + ".rows")
    if not cached.exists():
        sys.exit(f"{cached} is missing: run scripts/bench.py on {src.name} first (it counts the rows)")
    return int(cached.read_text().split()[-1])


def measure(src: Path, rounds: int, args: argparse.Namespace, work: Path) -> list[str]:
    shape = ""  # only the --schema run needs the shape, and it is not run here
    rows = expected_rows(src)
    bench.warm_cache(src)
    runs: dict[tuple[str, bool], list[bench.Run]] = {(t, p): [] for t in TOOLS for p in (False, True)}
    for i in range(rounds):
        order = TOOLS if i % 2 == 0 else TOOLS[::-1]
        for pinned in (False, True):
            for tool in order:
                run = bench.run_tool(tool, src, shape, rows, work, args, pinned=pinned)
                if not run.ok:
                    sys.exit(f"{tool} failed on {src.name}: {run.error}")
                runs[(tool, pinned)].append(run)
                print(f"[{src.name} round {i + 1}] {tool}{', 1 CPU' if pinned else ''}: {run.wall_s:.2f} s, "
                      f"{run.cpu_s:.2f} CPU s, {run.peak_rss_mib:.0f} MiB", flush=True)

    def ratios(pinned: bool) -> list[float]:
        t, p = runs[("tributary", pinned)], runs[("polars", pinned)]
        return [(a.cpu_s / b.cpu_s) if pinned else (a.wall_s / b.wall_s) for a, b in zip(t, p)]

    def spread(values: list[float]) -> str:
        return f"**{statistics.median(values):.2f}** ({min(values):.2f}–{max(values):.2f})"

    def med(tool: str, pinned: bool, what: str) -> float:
        return statistics.median(getattr(r, what) for r in runs[(tool, pinned)])

    scaling = [p.wall_s / a.wall_s for a, p in zip(runs[("tributary", False)], runs[("tributary", True)])]
    wall, cpu = ratios(False), ratios(True)
    verdict = lambda v: "meets" if statistics.median(v) <= bench.TARGET_RATIO else "misses"  # noqa: E731
    size_mb = src.stat().st_size / 1e6
    return [
        f"| {src.name} ({size_mb:,.0f} MB) | {med('tributary', False, 'wall_s'):.2f} | {med('polars', False, 'wall_s'):.2f} "
        f"| {spread(wall)}, {verdict(wall)} | {med('tributary', True, 'cpu_s'):.2f} | {med('polars', True, 'cpu_s'):.2f} "
        f"| {spread(cpu)}, {verdict(cpu)} | {spread(scaling)} | "
        f"{max(r.peak_rss_mib for r in runs[('tributary', False)] + runs[('tributary', True)]):.0f} |"
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tributary", required=True, help="the tributary binary")
    p.add_argument("--files", required=True, help="comma-separated CSV inputs (made by scripts/bench.py)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="markdown file to append the section to")
    p.add_argument("--python", default=sys.executable, help="the interpreter of the polars baseline")
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    # What bench.run_tool reads from its arguments.
    args.keep_outputs, args.pin_cpu, args.schema_dir = False, 0, bench.SCRIPTS
    files = [Path(f) for f in args.files.split(",") if f]
    # `make bench` names each shape's 1000 MB file; with other BENCH_SIZES it may not exist.
    missing = [f for f in files if not f.exists()]
    files = [f for f in files if f.exists()]

    lines = [
        f"## tributary against polars, {args.rounds} rounds back to back (medians; lowest–highest)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; `scripts/bench_repeat.py`, "
        f"tributary `{args.tributary}`, polars {importlib.metadata.version('polars')}",
        "- each round: tributary and polars on all CPUs, then pinned to one (`taskset -c 0`, polars with "
        "POLARS_MAX_THREADS=1), alternating which runs first; ratios are tributary / polars within a round",
        "- scaling: tributary's wall time pinned to one CPU / its wall time on all CPUs, within a round",
        "",
        "| input | tributary wall s, all CPUs | polars wall s | tributary / polars wall | tributary CPU s, 1 CPU "
        "| polars CPU s | tributary / polars CPU | tributary scaling | tributary peak RSS MiB |",
        "| --- | ---: | ---: | --- | ---: | ---: | --- | --- | ---: |",
    ]
    if missing:
        at = len(lines) - 2  # before the table's header
        lines[at:at] = ["Not run (no such input; scripts/bench.py makes it at that size): "
                        + ", ".join(f.name for f in missing), ""]
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            lines += measure(f, args.rounds, args, Path(tmp))
    text = "\n".join(lines) + "\n\n"
    print(text, flush=True)
    if args.out:
        with open(args.out, "a") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
