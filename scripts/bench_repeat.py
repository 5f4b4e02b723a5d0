#!/usr/bin/env python3
"""tributary against polars, run after run: the ratios of issue 14 as medians, with their spread.

Usage (from the repository root, after scripts/bench.py generated the inputs):

    .venv/bin/python scripts/bench_repeat.py --tributary target/release/tributary \\
        --shapes order_lines,narrow --size-mb 1000 --rounds 5 --out bench-results.md

scripts/bench.py runs each tool once per input, so on a machine whose speed moves between runs (this one's
does, by a third) one ratio can land either side of a target. Here every round runs tributary and polars
back to back on the same warm file, on all CPUs and then pinned to one (`taskset -c 0`, polars with
POLARS_MAX_THREADS=1), alternating which goes first. Each round gives a ratio: tributary / polars, wall time on
all CPUs and CPU time on one. The report gives each ratio's median over the rounds with its lowest and highest,
and tributary's own scaling (wall time pinned / wall time on all CPUs). Every run's rows are checked as
scripts/bench.py checks them (it uses that script's runner). The section is appended to --out.

With ``--compression zstd`` tributary writes zstd, as polars does by default: the same codec on both sides,
and each tool's Parquet size in the table.
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


def measure(shape: str, args: argparse.Namespace, work: Path) -> list[str]:
    # The input and its row count as scripts/bench.py made them (its cache is checked against the file's size).
    src, rows = bench.ensure_input(args.data_dir, shape, args.size_mb, args.seed, skip_generate=True)
    rounds = args.rounds
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
    sizes = [
        f" {statistics.median(r.parquet_mb or 0.0 for r in runs[(tool, False)]):.1f} |" for tool in TOOLS
    ] if args.compression else []
    return [
        f"| {shape} ({size_mb:,.0f} MB) | {med('tributary', False, 'wall_s'):.2f} | {med('polars', False, 'wall_s'):.2f} "
        f"| {spread(wall)}, {verdict(wall)} | {med('tributary', True, 'cpu_s'):.2f} | {med('polars', True, 'cpu_s'):.2f} "
        f"| {spread(cpu)}, {verdict(cpu)} | {spread(scaling)} | "
        f"{max(r.peak_rss_mib for r in runs[('tributary', False)] + runs[('tributary', True)]):.0f} |" + "".join(sizes)
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tributary", required=True, help="the tributary binary")
    p.add_argument("--shapes", default="order_lines,orders_text,telemetry,narrow", help="comma-separated shapes")
    p.add_argument("--size-mb", type=float, default=1000, help="the inputs' size (scripts/bench.py makes them)")
    p.add_argument("--data-dir", type=Path, default=bench.REPO / "bench-data")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="markdown file to append the section to")
    p.add_argument("--compression", default=None,
                   help="tributary's --compression (e.g. zstd, polars' codec); default: its own default, snappy")
    p.add_argument("--python", default=sys.executable, help="the interpreter of the polars baseline")
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    # What bench.run_tool reads from its arguments.
    args.keep_outputs, args.pin_cpu, args.schema_dir = False, 0, bench.SCRIPTS
    shapes = [x for x in args.shapes.split(",") if x]
    # With other BENCH_SIZES, `make bench` may not have made an input of this size.
    missing = [x for x in shapes if not bench.input_path(args.data_dir, x, args.size_mb, args.seed).exists()]
    shapes = [x for x in shapes if x not in missing]
    note = ([f"Not run (scripts/bench.py makes these inputs at {args.size_mb:g} MB): {', '.join(missing)}", ""]
            if missing else [])
    codec = f" with --compression {args.compression}" if args.compression else ""
    lines = [
        f"## tributary{codec} against polars, {args.rounds} rounds back to back (medians; lowest–highest)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; `scripts/bench_repeat.py`, "
        f"tributary `{args.tributary}`, polars {importlib.metadata.version('polars')}",
        "- each round: tributary and polars on all CPUs, then pinned to one (`taskset -c 0`, polars with "
        "POLARS_MAX_THREADS=1), alternating which runs first; ratios are tributary / polars within a round",
        "- scaling: tributary's wall time pinned to one CPU / its wall time on all CPUs, within a round",
        "",
        *note,
        "| input | tributary wall s, all CPUs | polars wall s | tributary / polars wall | tributary CPU s, 1 CPU "
        "| polars CPU s | tributary / polars CPU | tributary scaling | tributary peak RSS MiB |"
        + (" tributary Parquet MB | polars Parquet MB |" if args.compression else ""),
        "| --- | ---: | ---: | --- | ---: | ---: | --- | --- | ---: |" + (" ---: | ---: |" if args.compression else ""),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            lines += measure(shape, args, Path(tmp))
    text = "\n".join(lines) + "\n\n"
    print(text, flush=True)
    if args.out:
        with open(args.out, "a") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
