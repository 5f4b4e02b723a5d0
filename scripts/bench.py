#!/usr/bin/env python3
"""CSV -> Parquet conversion benchmark: Tributary against pandas, pyarrow, DuckDB and polars.

Usage (from the repository root, with the bench venv: see requirements/bench.txt):

    .venv/bin/python scripts/bench.py --tributary target/release/tributary \\
        --sizes 100,1000 --data-dir bench-data --out bench-results.md

    # baselines only (no Tributary binary needed):
    .venv/bin/python scripts/bench.py --tools pandas,pyarrow,duckdb,polars --sizes 10

Run with plain ``python3`` it re-executes itself under ``.venv/bin/python`` when that exists and
pyarrow is not importable.

For each size (MB = 1e6 bytes) it
  1. generates ``<data-dir>/order_lines_<size>mb_seed<seed>.csv`` with scripts/gen_order_lines.py,
     unless the file is already there (the data-row count is cached beside it in ``.rows``);
  2. reads the file once, untimed (``cat IN > /dev/null``), so every tool sees a warm page cache;
  3. runs each tool in turn -- never two at once -- as a child process converting the same file,
     measuring wall time (perf_counter around the child), the child's peak RSS and CPU time (from
     ``os.wait4``'s rusage; a child's ru_maxrss starts at this process's own peak, so this process
     stays small -- it never imports pyarrow -- and reports that floor in the header);
  4. checks each output's row count in the Parquet footer (pyarrow) against the CSV's data rows;
     for Tributary, the ``rows_out`` of its JSON summary must match too, with no rejected rows.
     A tool that exits non-zero, times out or writes the wrong count is reported as FAILED.
Then it prints a markdown table per size and writes the same report to --out.

The only third-party dependency of this script is pyarrow (for reading Parquet footers, in a
child process); the baselines themselves need the packages in requirements/bench.txt.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
GENERATOR = SCRIPTS / "gen_order_lines.py"
DEFAULT_SCHEMA = SCRIPTS / "order_lines.schema.json"

ALL_TOOLS = ["tributary", "tributary-schema", "pandas", "pyarrow", "duckdb", "polars"]
# Display names and the baseline script of each Python tool.
LABELS = {"tributary": "tributary", "tributary-schema": "tributary (schema)", "pandas": "pandas",
          "pyarrow": "pyarrow (stream)", "duckdb": "duckdb", "polars": "polars (sink)"}
BASELINES = {"pandas": "pandas_convert.py", "pyarrow": "pyarrow_stream.py",
             "duckdb": "duckdb_convert.py", "polars": "polars_convert.py"}
# Python packages whose versions go in the report header.
PACKAGES = ["pandas", "pyarrow", "duckdb", "polars"]


def ensure_pyarrow() -> None:
    """Re-exec under the project venv if pyarrow is missing here; exit with a hint if that fails.

    pyarrow is only looked up, never imported, in this process: see parquet_rows().
    """
    if importlib.util.find_spec("pyarrow") is not None:
        return
    venv = REPO / ".venv"
    venv_python = venv / "bin" / "python"
    # Compare prefixes, not executables: a venv's python is usually a symlink to the base one.
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    sys.exit("bench.py needs pyarrow: python3 -m venv .venv && .venv/bin/pip install -r requirements/bench.txt, "
             "then run it with .venv/bin/python")


@dataclass
class Run:
    """The outcome of one tool converting one file."""
    tool: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    rows: int | None = None
    ok: bool = False
    error: str = ""


# --------------------------------------------------------------------------------------------
# Input data
# --------------------------------------------------------------------------------------------

def size_label(size_mb: float) -> str:
    """'100' for 100.0, '0.5' for 0.5: used in file names and headings."""
    return f"{size_mb:g}"


def count_csv_rows(path: Path) -> int:
    """Count data rows with the stdlib csv module (an independent parser; handles quoted newlines)."""
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1  # minus the header


def ensure_input(data_dir: Path, size_mb: float, seed: int, skip_generate: bool) -> tuple[Path, int]:
    """Return (csv path, data rows) for a size, generating the file if needed."""
    path = data_dir / f"order_lines_{size_label(size_mb)}mb_seed{seed}.csv"
    rows_file = path.with_name(path.name + ".rows")
    if not path.exists():
        if skip_generate:
            sys.exit(f"{path} is missing and --skip-generate was given")
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ...", flush=True)
        subprocess.run([sys.executable, str(GENERATOR), "--size-mb", str(size_mb), "--seed", str(seed),
                        "--out", str(path)], check=True)
        rows_file.unlink(missing_ok=True)
    # The row count is cached with the file's size, so a replaced file is recounted.
    size = path.stat().st_size
    if rows_file.exists():
        cached_size, cached_rows = map(int, rows_file.read_text().split())
        if cached_size == size:
            return path, cached_rows
    print(f"counting rows of {path} ...", flush=True)
    rows = count_csv_rows(path)
    rows_file.write_text(f"{size} {rows}\n")
    return path, rows


def warm_cache(path: Path) -> None:
    """Read the file once so it is in the page cache for every tool (dropping the cache is not possible)."""
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)


# --------------------------------------------------------------------------------------------
# Running the tools
# --------------------------------------------------------------------------------------------

def tool_command(tool: str, src: Path, dst: Path, args: argparse.Namespace) -> list[str]:
    """The command line converting src to dst with a tool."""
    if tool == "tributary":
        return [args.tributary, "convert", str(src), str(dst)]
    if tool == "tributary-schema":
        return [args.tributary, "convert", str(src), str(dst), "--schema", str(args.schema)]
    return [args.python, str(SCRIPTS / "baselines" / BASELINES[tool]), str(src), str(dst)]


def run_measured(cmd: list[str], log_dir: Path, name: str,
                 timeout_s: float) -> tuple[int, bool, float, float, float, str]:
    """Run cmd as a child; return (exit code, timed out, wall s, CPU s, peak RSS MiB, stdout text).

    stdout and stderr go to files in log_dir (no pipes, so the child can never block on them).
    The child is killed after timeout_s seconds.
    """
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            child.kill()

        killer = threading.Timer(timeout_s, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped
    cpu = usage.ru_utime + usage.ru_stime
    peak_rss_mib = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    return child.returncode, timed_out.is_set(), wall, cpu, peak_rss_mib, out_path.read_text(errors="replace")


# Prints the number of rows in the Parquet file argv[1] (or in all *.parquet files under that
# directory), read from the footers.
PARQUET_ROWS_SNIPPET = """
import sys, pathlib, pyarrow.parquet as pq
p = pathlib.Path(sys.argv[1])
files = sorted(p.rglob('*.parquet')) if p.is_dir() else [p]
if not files:
    sys.exit(f'no Parquet files under {p}')
print(sum(pq.ParquetFile(f).metadata.num_rows for f in files))
"""


def parquet_rows(path: Path) -> int:
    """Rows in a Parquet output, counted by pyarrow in a separate process.

    pyarrow is kept out of this process on purpose: a child's ru_maxrss starts at this process's
    own peak RSS (the child is spawned from, and at first shares, this process's memory), so the
    parent must stay small for the tools' peak RSS to be measured correctly.
    """
    done = subprocess.run([sys.executable, "-c", PARQUET_ROWS_SNIPPET, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(last_lines(done.stderr, 1))
    return int(done.stdout)


def last_lines(text: str, n: int = 3) -> str:
    """The last n non-empty lines of text, joined with ' | ' (for error messages)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def run_tool(tool: str, src: Path, expected_rows: int, work_dir: Path, args: argparse.Namespace) -> Run:
    """Run one tool on src, then verify its output; never raises for a tool's failure."""
    dst = work_dir / f"{tool}.parquet"
    remove(dst)
    run = Run(tool)
    code, timed_out, run.wall_s, run.cpu_s, run.peak_rss_mib, stdout = run_measured(
        tool_command(tool, src, dst, args), work_dir, tool, args.timeout)
    if timed_out or code != 0:
        if timed_out:
            why = f"killed after the {args.timeout:g} s timeout"
        elif code < 0:
            why = f"killed by signal {-code}"
        else:
            why = f"exit code {code}"
        stderr = (work_dir / f"{tool}.stderr").read_text(errors="replace")
        run.error = f"{why}: {last_lines(stderr)}"
        return run

    try:
        file_rows = parquet_rows(dst)
    except Exception as e:  # missing or unreadable output
        run.error = f"cannot read output: {e}"
        return run
    run.rows = file_rows

    if tool.startswith("tributary"):
        # Tributary reports its own counts; rows_out is the one to check.
        try:
            summary = json_summary(stdout)
            run.rows = int(summary["rows_out"])
            rejected = int(summary.get("rows_rejected", 0))
        except (ValueError, KeyError, TypeError) as e:
            run.error = f"no JSON summary with rows_out on stdout ({e}): {stdout[-200:]!r}"
            return run
        if rejected:
            run.error = f"rejected {rejected} rows (see {summary.get('quarantine')})"
            return run
        if file_rows != run.rows:
            run.error = f"rows_out {run.rows} but the Parquet footer says {file_rows}"
            return run

    if run.rows != expected_rows:
        run.error = f"wrote {run.rows} rows, expected {expected_rows}"
        return run
    run.ok = True
    if not args.keep_outputs:
        remove(dst)
    return run


def json_summary(stdout: str) -> dict:
    """The last JSON object a tool printed on stdout (one line or pretty-printed; other lines ignored)."""
    lines = stdout.splitlines()
    decoder = json.JSONDecoder()
    for i in reversed(range(len(lines))):
        if lines[i].lstrip().startswith("{"):
            try:
                value, _ = decoder.raw_decode("\n".join(lines[i:]).lstrip())
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object found")


def remove(path: Path) -> None:
    """Delete a file or directory if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def rss_floor_mib() -> float:
    """Peak RSS measured for `true`: the smallest peak RSS this script can report (see parquet_rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        return run_measured(["true"], Path(tmp), "true", 60)[4]


def machine_header(args: argparse.Namespace, floor_mib: float) -> str:
    """Markdown lines describing the machine, the date and the tool versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for pkg in PACKAGES:
        try:
            versions.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join([
        "# CSV → Parquet conversion benchmark",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {len(os.sched_getaffinity(0))} cores (nproc), CPU {cpu}, {mem_gib:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- load average at start: {load}",
        f"- Python {platform.python_version()} ({args.python}); {', '.join(versions)}",
        f"- tributary: {args.tributary or '(not run)'}",
        f"- input: scripts/gen_order_lines.py, seed {args.seed}; MB = 10^6 bytes; warm page cache; "
        "tools run one at a time",
        "- wall s: elapsed time of the child process; CPU s: its user + system time; peak RSS: its "
        f"ru_maxrss (for the Python tools this includes the interpreter and imported libraries); "
        f"values below {floor_mib:.0f} MiB (the bench process's own size, measured with `true`) cannot be seen",
        "- ratios are tool / tributary (the inferred-schema run if it succeeded, else the "
        "--schema run): > 1 means tributary is faster or smaller",
    ])


def ratio(value: float, base: float | None) -> str:
    """value / base formatted, or n/a without a base."""
    return f"{value / base:.2f}×" if base else "n/a"


def size_table(size_mb: float, path: Path, rows: int, runs: list[Run]) -> str:
    """The markdown section for one input size."""
    size_bytes = path.stat().st_size
    by_tool = {r.tool: r for r in runs}
    base = next((by_tool[t] for t in ("tributary", "tributary-schema") if t in by_tool and by_tool[t].ok), None)
    lines = [
        f"## {size_label(size_mb)} MB input",
        "",
        f"`{path}`: {size_bytes:,} bytes, {rows:,} data rows",
        "",
        "| tool | wall s | MB/s | peak RSS MiB | CPU s | rows | time vs tributary | RSS vs tributary |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        if r.ok:
            mbps = size_bytes / 1e6 / r.wall_s
            lines.append(
                f"| {LABELS[r.tool]} | {r.wall_s:.2f} | {mbps:.1f} | {r.peak_rss_mib:.0f} | {r.cpu_s:.2f} "
                f"| {r.rows:,} | {ratio(r.wall_s, base and base.wall_s)} "
                f"| {ratio(r.peak_rss_mib, base and base.peak_rss_mib)} |")
        else:
            lines.append(f"| {LABELS[r.tool]} | FAILED ({r.wall_s:.2f}) | | {r.peak_rss_mib:.0f} | {r.cpu_s:.2f} "
                         f"| {'-' if r.rows is None else f'{r.rows:,}'} | | |")
    failures = [r for r in runs if not r.ok]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {LABELS[r.tool]}: {r.error}" for r in failures]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tributary", help="path to the tributary binary (needed for the tributary tools)")
    parser.add_argument("--sizes", default="100,1000", help="comma-separated input sizes in MB (default 100,1000)")
    parser.add_argument("--tools", default=",".join(ALL_TOOLS),
                        help=f"comma-separated subset of {','.join(ALL_TOOLS)} (default all), run in that order")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench-data", help="input/output directory")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results.md", help="markdown report to write")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="schema for 'tributary-schema'")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the Python baselines (default: this one)")
    parser.add_argument("--skip-generate", action="store_true", help="fail instead of generating missing inputs")
    parser.add_argument("--keep-outputs", action="store_true", help="keep the Parquet outputs of successful runs")
    parser.add_argument("--timeout", type=float, default=1800, help="per-run timeout in seconds (default 1800)")
    args = parser.parse_args(argv)

    try:
        args.sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes must be comma-separated numbers")
    if not args.sizes or any(s <= 0 for s in args.sizes):
        parser.error("--sizes must be positive")
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tools if t not in ALL_TOOLS]
    if unknown:
        parser.error(f"unknown tools {unknown}; choose from {ALL_TOOLS}")
    if any(t.startswith("tributary") for t in args.tools):
        if not args.tributary:
            parser.error("--tributary PATH is required to run the tributary tools (or pass --tools without them)")
        args.tributary = shutil.which(args.tributary) or str(Path(args.tributary).resolve())
        if not os.access(args.tributary, os.X_OK):
            parser.error(f"{args.tributary} is not an executable file")
    return args


def main(argv: list[str] | None = None) -> int:
    ensure_pyarrow()
    args = parse_args(argv)
    # Prepare every input first, so a missing file fails before any time is spent measuring.
    inputs = [(size_mb, *ensure_input(args.data_dir, size_mb, args.seed, args.skip_generate))
              for size_mb in args.sizes]
    header = machine_header(args, rss_floor_mib())
    print(header + "\n", flush=True)
    sections = []
    all_ok = True
    for size_mb, src, rows in inputs:
        work_dir = args.data_dir / "out" / f"{size_label(size_mb)}mb"
        work_dir.mkdir(parents=True, exist_ok=True)
        warm_cache(src)
        runs = []
        for tool in args.tools:
            print(f"[{size_label(size_mb)} MB] {LABELS[tool]} ...", end=" ", flush=True)
            run = run_tool(tool, src, rows, work_dir, args)
            status = f"{run.rows:,} rows" if run.ok else f"FAILED: {run.error}"
            print(f"{run.wall_s:.2f} s, {run.peak_rss_mib:.0f} MiB, {status}", flush=True)
            runs.append(run)
        all_ok &= all(r.ok for r in runs)
        section = size_table(size_mb, src, rows, runs)
        print("\n" + section + "\n", flush=True)
        sections.append(section)
        # Write after every size so a long run keeps what it has measured.
        args.out.write_text(header + "\n\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {args.out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
