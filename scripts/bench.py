#!/usr/bin/env python3
"""CSV -> Parquet conversion benchmark: Tributary against pandas, pyarrow, DuckDB and polars.

Usage (from the repository root, with the bench venv: see requirements/bench.txt):

    .venv/bin/python scripts/bench.py --tributary target/release/tributary \\
        --sizes 100,1000 --shape-sizes telemetry=100,1000,5000 \\
        --reference-binary bench-data/reference/tributary-0dd5e5f --data-dir bench-data --out bench-results.md

    # one shape, small, a few tools:
    .venv/bin/python scripts/bench.py --tributary target/release/tributary --shapes narrow --sizes 5 \\
        --tools tributary,polars,duckdb --out /tmp/bench.md

    # baselines only (no Tributary binary needed):
    .venv/bin/python scripts/bench.py --tools pandas,pyarrow,duckdb,polars --sizes 10

Run with plain ``python3`` it re-executes itself under ``.venv/bin/python`` when that exists and
pyarrow is not importable.

Data shapes (--shapes; scripts/gen_shapes.py describes them): order_lines (purchase-order lines,
short text), orders_text (long quoted notes, timestamps with UTC offsets), telemetry (19 float
columns, millisecond timestamps, sparse integers) and narrow (five short columns, many rows per MB).
Every shape is converted at each of --sizes, or at the sizes --shape-sizes gives it.

For each shape and size (MB = 1e6 bytes) it
  1. generates ``<data-dir>/<shape>_<size>mb_seed<seed>.csv`` with scripts/gen_shapes.py (the
     order_lines files are the ones scripts/gen_order_lines.py always wrote, same names and bytes),
     unless the file is already there (the data-row count is cached beside it in ``.rows``);
  2. reads the file, untimed (``cat IN > /dev/null``), before every run, so every tool sees a warm page cache
     (a machine that pages out memory unused for a while, as this one's DAMON reclaim does, would otherwise
     have a run read part of its input from disk: the reading thread waited on the disk in some runs);
  3. runs each tool in turn -- never two at once -- as a child process converting the same file,
     measuring wall time (perf_counter around the child), the child's peak RSS and CPU time (from
     ``os.wait4``'s rusage; a child's ru_maxrss starts at this process's own peak, so this process
     stays small -- it never imports pyarrow -- and reports that floor in the header). From
     --large-mb on (default 5000) only the --large-tools run (default tributary and polars: pandas
     would need more than 10 GB of memory), and --skip leaves chosen tools out of chosen inputs;
  4. runs the --pinned-tools again (default tributary, polars, duckdb) pinned to one CPU with
     ``taskset -c 0``, polars with POLARS_MAX_THREADS=1 and DuckDB with 1 thread, for their CPU time
     on one core;
  5. checks each output's row count in the Parquet footer (pyarrow) against the CSV's data rows;
     for Tributary, the ``rows_out`` of its JSON summary must match too, with no rejected rows.
     A tool that exits non-zero, times out or writes the wrong count is reported as FAILED;
  6. with --reference-binary, converts the file with that binary too (the same command as the
     inferred ``tributary`` run) and compares the two outputs column by column with pyarrow's
     ``Table.equals``, leaving out ``_ingested_at`` (the conversion time): "identical", or the first
     column that differs.
Then it prints a markdown section per shape and size -- the tools' table, the pinned runs' table,
tributary's wall time on all cores and CPU time on one against polars' (the target is a ratio of at
most 0.8) and the identity result -- and a summary table of each shape at its largest size, and
writes the same report to --out.

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
GENERATOR = SCRIPTS / "gen_shapes.py"

# The data shapes gen_shapes.py writes; each has its declared schema in scripts/<shape>.schema.json.
ALL_SHAPES = ["order_lines", "orders_text", "telemetry", "narrow"]

ALL_TOOLS = ["tributary", "tributary-schema", "pandas", "pyarrow", "duckdb", "polars"]
# Display names and the baseline script of each Python tool.
LABELS = {"tributary": "tributary", "tributary-schema": "tributary (schema)", "pandas": "pandas",
          "pyarrow": "pyarrow (stream)", "duckdb": "duckdb", "polars": "polars (sink)"}
BASELINES = {"pandas": "pandas_convert.py", "pyarrow": "pyarrow_stream.py",
             "duckdb": "duckdb_convert.py", "polars": "polars_convert.py"}
# Python packages whose versions go in the report header.
PACKAGES = ["pandas", "pyarrow", "duckdb", "polars"]
# The environment that gives a tool one thread in the runs pinned to one CPU. Tributary needs none: its pipeline
# has three threads (tokenize, build, encode) whatever the CPU count, and taskset makes them share the one CPU.
# Arrow's thread pools (pyarrow, and pandas' Parquet writer) take OMP_NUM_THREADS.
PINNED_ENV = {"polars": {"POLARS_MAX_THREADS": "1"}, "duckdb": {"DUCKDB_THREADS": "1"},
              "pyarrow": {"OMP_NUM_THREADS": "1"}, "pandas": {"OMP_NUM_THREADS": "1"}}
# The target of issue 14: tributary / polars at most this, for wall time on all cores and CPU time on one.
TARGET_RATIO = 0.8


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
    """The outcome of one tool converting one file (pinned: on one CPU)."""
    tool: str
    pinned: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    rows: int | None = None
    # The output's size, in MB (10^6 bytes): what a reader downloads and a query engine scans.
    parquet_mb: float | None = None
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


def input_path(data_dir: Path, shape: str, size_mb: float, seed: int) -> Path:
    """<data-dir>/<shape>_<size>mb_seed<seed>.csv (order_lines_100mb_seed42.csv, as it always was)."""
    return data_dir / f"{shape}_{size_label(size_mb)}mb_seed{seed}.csv"


def ensure_input(data_dir: Path, shape: str, size_mb: float, seed: int, skip_generate: bool) -> tuple[Path, int]:
    """Return (csv path, data rows) for a shape and size, generating the file if needed."""
    path = input_path(data_dir, shape, size_mb, seed)
    rows_file = path.with_name(path.name + ".rows")
    if not path.exists():
        if skip_generate:
            sys.exit(f"{path} is missing and --skip-generate was given")
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ...", flush=True)
        subprocess.run([sys.executable, str(GENERATOR), "--shape", shape, "--size-mb", str(size_mb),
                        "--seed", str(seed), "--out", str(path)], check=True)
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
    """Read the file so that it is in the page cache for the next run (dropping the cache is not possible)."""
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)


# --------------------------------------------------------------------------------------------
# Running the tools
# --------------------------------------------------------------------------------------------

def schema_path(shape: str, args: argparse.Namespace) -> Path:
    """The declared schema of a shape, for 'tributary-schema'."""
    return args.schema_dir / f"{shape}.schema.json"


def tool_command(tool: str, src: Path, dst: Path, shape: str, args: argparse.Namespace) -> list[str]:
    """The command line converting src (of a shape) to dst with a tool."""
    if tool == "tributary":
        # scripts/bench_repeat.py --compression: tributary with another codec than its default (snappy).
        codec = getattr(args, "compression", None)
        return [args.tributary, "convert", str(src), str(dst), *(["--compression", codec] if codec else [])]
    if tool == "tributary-schema":
        return [args.tributary, "convert", str(src), str(dst), "--schema", str(schema_path(shape, args))]
    return [args.python, str(SCRIPTS / "baselines" / BASELINES[tool]), str(src), str(dst)]


def pinned_command(tool: str, cmd: list[str], args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """cmd run on one CPU (taskset -c CPU), and the environment that gives the tool one thread."""
    return ["taskset", "-c", str(args.pin_cpu), *cmd], {**os.environ, **PINNED_ENV.get(tool, {})}


def run_measured(cmd: list[str], log_dir: Path, name: str, timeout_s: float,
                 env: dict[str, str] | None = None) -> tuple[int, bool, float, float, float, str]:
    """Run cmd as a child; return (exit code, timed out, wall s, CPU s, peak RSS MiB, stdout text).

    stdout and stderr go to files in log_dir (no pipes, so the child can never block on them).
    The child is killed after timeout_s seconds. env replaces the environment when given.
    """
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
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


def output_path(work_dir: Path, tool: str, pinned: bool = False) -> Path:
    """Where a run writes its Parquet file (and, without the suffix, its stdout and stderr)."""
    return work_dir / f"{run_name(tool, pinned)}.parquet"


def run_name(tool: str, pinned: bool) -> str:
    """'polars', or 'polars-1cpu' for the pinned run: the stem of a run's files."""
    return f"{tool}-1cpu" if pinned else tool


def failure(code: int, timed_out: bool, stderr_path: Path, timeout_s: float) -> str:
    """Why a child failed, with the end of its stderr."""
    if timed_out:
        why = f"killed after the {timeout_s:g} s timeout"
    elif code < 0:
        why = f"killed by signal {-code}"
    else:
        why = f"exit code {code}"
    return f"{why}: {last_lines(stderr_path.read_text(errors='replace'))}"


def run_tool(tool: str, src: Path, shape: str, expected_rows: int, work_dir: Path, args: argparse.Namespace,
             pinned: bool = False, keep: bool = False) -> Run:
    """Run one tool on src (pinned: on one CPU), then verify its output; never raises for a tool's failure.

    The output is deleted after a successful run unless keep or --keep-outputs.
    """
    name = run_name(tool, pinned)
    dst = output_path(work_dir, tool, pinned)
    remove(dst)
    warm_cache(src)
    run = Run(tool, pinned)
    cmd, env = tool_command(tool, src, dst, shape, args), None
    if pinned:
        cmd, env = pinned_command(tool, cmd, args)
    code, timed_out, run.wall_s, run.cpu_s, run.peak_rss_mib, stdout = run_measured(
        cmd, work_dir, name, args.timeout, env)
    if timed_out or code != 0:
        run.error = failure(code, timed_out, work_dir / f"{name}.stderr", args.timeout)
        return run

    try:
        file_rows = parquet_rows(dst)
    except Exception as e:  # missing or unreadable output
        run.error = f"cannot read output: {e}"
        return run
    run.rows = file_rows
    run.parquet_mb = dst.stat().st_size / 1e6

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
    if not (keep or args.keep_outputs):
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
# Output identity against a reference binary
# --------------------------------------------------------------------------------------------

# Compares the Parquet files argv[1] and argv[2] without the column argv[3]: prints "identical", or what
# differs first -- the row count, the columns, or the first column (in schema order) whose type or values
# differ, with its first differing row. One column of both files is in memory at a time.
IDENTITY_SNIPPET = """
import sys, pyarrow.compute as pc, pyarrow.parquet as pq
a, b = pq.ParquetFile(sys.argv[1]), pq.ParquetFile(sys.argv[2])
skip = sys.argv[3]
def show(a, b):
    a, b = a.as_py(), b.as_py()
    if isinstance(a, str) and isinstance(b, str):  # from a little before the first differing character
        start = max(0, next((i for i, (p, q) in enumerate(zip(a, b)) if p != q), min(len(a), len(b))) - 20)
        a, b = a[start:start + 50], b[start:start + 50]
    return f'{a!r} against {b!r}'
fa = [f for f in a.schema_arrow if f.name != skip]
fb = [f for f in b.schema_arrow if f.name != skip]
if a.metadata.num_rows != b.metadata.num_rows:
    sys.exit(print(f'{a.metadata.num_rows:,} rows against {b.metadata.num_rows:,}'))
if [f.name for f in fa] != [f.name for f in fb]:
    sys.exit(print(f'columns differ: {[f.name for f in fa]} against {[f.name for f in fb]}'))
for x, y in zip(fa, fb):
    if x.type != y.type or x.nullable != y.nullable:
        sys.exit(print(f'column {x.name}: {x.type}{"" if x.nullable else " not null"} against '
                       f'{y.type}{"" if y.nullable else " not null"}'))
    ta, tb = a.read(columns=[x.name]), b.read(columns=[x.name])
    if not ta.equals(tb):
        ca, cb = ta.column(0), tb.column(0)
        same = pc.if_else(pc.and_(ca.is_null(), cb.is_null()), True, pc.fill_null(pc.equal(ca, cb), False))
        row = pc.index(same, False).as_py()
        if row < 0:
            sys.exit(print(f'column {x.name} differs (equal values compare equal: NaNs?)'))
        sys.exit(print(f'column {x.name} differs, first at row index {row:,}: {show(ca[row], cb[row])}'))
print('identical')
"""


def compare_outputs(ours: Path, reference: Path) -> str:
    """"identical" if the two Parquet files hold the same table apart from _ingested_at, else what differs.

    In a child process, for the reason parquet_rows gives.
    """
    done = subprocess.run([sys.executable, "-c", IDENTITY_SNIPPET, str(ours), str(reference), "_ingested_at"],
                          capture_output=True, text=True)
    if done.returncode != 0 and not done.stdout.strip():
        return f"comparison failed: {last_lines(done.stderr, 1)}"
    return done.stdout.strip()


@dataclass
class Identity:
    """The reference binary's conversion of a file and how its output compares with tributary's."""
    wall_s: float = 0.0
    result: str = ""  # "identical", what differs, or why there was nothing to compare


def check_identity(src: Path, work_dir: Path, run: Run | None, args: argparse.Namespace) -> Identity:
    """Convert src with --reference-binary (as the inferred tributary run does) and compare the outputs.

    run is that tributary run, if there was one. Tributary's output (kept by its run) and the reference's are
    deleted afterwards unless --keep-outputs.
    """
    ours, theirs = output_path(work_dir, "tributary"), work_dir / "reference.parquet"
    identity = Identity()
    if run is None or not run.ok:
        identity.result = f"not compared: {'no' if run is None else 'a failed'} tributary run on this input"
        return identity
    remove(theirs)
    code, timed_out, identity.wall_s, _, _, _ = run_measured(
        [args.reference_binary, "convert", str(src), str(theirs)], work_dir, "reference", args.timeout)
    if timed_out or code != 0:
        identity.result = "reference FAILED: " + failure(code, timed_out, work_dir / "reference.stderr", args.timeout)
    else:
        identity.result = compare_outputs(ours, theirs)
    if not args.keep_outputs:
        remove(ours)
        remove(theirs)
    return identity


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

@dataclass
class Section:
    """Everything measured on one input: one shape at one size."""
    shape: str
    size_mb: float
    path: Path
    rows: int
    runs: list[Run]
    pinned: list[Run]
    skipped: str  # which tools of --tools were left out, and why ("" for none)
    identity: Identity | None  # None without --reference-binary

    def tributary(self, pinned: bool = False) -> Run | None:
        """Tributary's successful run: the inferred-schema one if it succeeded, else the --schema one."""
        runs = self.pinned if pinned else self.runs
        return next((r for t in ("tributary", "tributary-schema") for r in runs if r.tool == t and r.ok), None)

    def polars(self, pinned: bool = False) -> Run | None:
        """polars' successful run, if any."""
        return next((r for r in (self.pinned if pinned else self.runs) if r.tool == "polars" and r.ok), None)

    def target(self, pinned: bool) -> float | None:
        """tributary / polars: wall time on all CPUs, or CPU time pinned to one; None without both runs."""
        ours, theirs = self.tributary(pinned), self.polars(pinned)
        if not (ours and theirs):
            return None
        return ours.cpu_s / theirs.cpu_s if pinned else ours.wall_s / theirs.wall_s


def rss_floor_mib() -> float:
    """Peak RSS measured for `true`: the smallest peak RSS this script can report (see parquet_rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        return run_measured(["true"], Path(tmp), "true", 60)[4]


def cpus() -> int:
    """The CPUs this process may run on (what nproc says)."""
    return len(os.sched_getaffinity(0))


def machine_header(args: argparse.Namespace, floor_mib: float) -> str:
    """Markdown lines describing the machine, the date, the tool versions and how the runs are made."""
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
    pinned = ", ".join(LABELS[t] for t in args.pinned_tools) or "none"
    sizes = "; ".join(f"{shape} {', '.join(size_label(s) for s in args.shape_sizes[shape])} MB"
                      for shape in args.shapes)
    skipped = [f"- left out with --skip: {'; '.join(skip_text(rule) for rule in args.skip)} (`make bench` "
               "leaves pandas and pyarrow out of the other shapes' 1000 MB runs to stay under ~25 minutes on 2 "
               "cores)"] if args.skip else []
    return "\n".join([
        "# CSV → Parquet conversion benchmark",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpus()} cores (nproc), CPU {cpu}, {mem_gib:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- load average at start: {load}",
        f"- Python {platform.python_version()} ({args.python}); {', '.join(versions)}",
        f"- tributary: {args.tributary or '(not run)'}",
        f"- input: scripts/gen_shapes.py, seed {args.seed} ({sizes}); MB = 10^6 bytes; warm page cache; "
        "tools run one at a time",
        f"- from {size_label(args.large_mb)} MB on only {', '.join(LABELS[t] for t in args.large_tools)} run "
        "(pandas would need more than 10 GB of memory)",
        *skipped,
        f"- pinned to one CPU (`taskset -c {args.pin_cpu}`; polars with POLARS_MAX_THREADS=1, DuckDB with 1 "
        f"thread, pyarrow and pandas with OMP_NUM_THREADS=1): {pinned}",
        f"- output identity: {f'against `{args.reference_binary}`' if args.reference_binary else 'not checked'} "
        "(the inferred tributary run's output, compared column by column with pyarrow `Table.equals`, "
        "without `_ingested_at`)",
        "- wall s: elapsed time of the child process; CPU s: its user + system time; peak RSS: its "
        f"ru_maxrss (for the Python tools this includes the interpreter and imported libraries); "
        f"values below {floor_mib:.0f} MiB (the bench process's own size, measured with `true`) cannot be seen",
        "- ratios are tool / tributary (the inferred-schema run if it succeeded, else the "
        "--schema run): > 1 means tributary is faster or smaller",
        f"- target: tributary / polars at most {TARGET_RATIO:g}, for wall time on {cpus()} CPUs and for CPU "
        "time pinned to one",
    ])


def ratio(value: float, base: float | None) -> str:
    """value / base formatted, or n/a without a base."""
    return f"{value / base:.2f}×" if base else "n/a"


def verdict(value: float | None) -> str:
    """A tributary / polars ratio against the target: '0.74, meets' or '0.86, misses' (n/a without one)."""
    if value is None:
        return "n/a"
    return f"{value:.2f}, {'meets' if value <= TARGET_RATIO else 'misses'}"


def section_title(section: Section) -> str:
    """'order_lines, 100 MB': names a section (its heading adds ' input')."""
    return f"{section.shape}, {size_label(section.size_mb)} MB"


def section_markdown(section: Section, args: argparse.Namespace) -> str:
    """The markdown section of one shape and size: the tools' table, the pinned runs' table, the targets and the
    identity result."""
    size_bytes = section.path.stat().st_size
    base = section.tributary()
    lines = [
        f"## {section_title(section)} input",
        "",
        f"`{section.path}`: {size_bytes:,} bytes, {section.rows:,} data rows",
        "",
    ]
    if section.skipped:
        lines += [f"Not run on this input: {section.skipped}.", ""]
    lines += [
        "| tool | wall s | MB/s | peak RSS MiB | CPU s | rows | time vs tributary | RSS vs tributary | Parquet MB "
        "| Parquet vs tributary |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in section.runs:
        if r.ok:
            mbps = size_bytes / 1e6 / r.wall_s
            size = "n/a" if r.parquet_mb is None else f"{r.parquet_mb:.1f}"
            lines.append(
                f"| {LABELS[r.tool]} | {r.wall_s:.2f} | {mbps:.1f} | {r.peak_rss_mib:.0f} | {r.cpu_s:.2f} "
                f"| {r.rows:,} | {ratio(r.wall_s, base and base.wall_s)} "
                f"| {ratio(r.peak_rss_mib, base and base.peak_rss_mib)} | {size} "
                f"| {ratio(r.parquet_mb, base and base.parquet_mb) if r.parquet_mb else 'n/a'} |")
        else:
            lines.append(f"| {LABELS[r.tool]} | FAILED ({r.wall_s:.2f}) | | {r.peak_rss_mib:.0f} | {r.cpu_s:.2f} "
                         f"| {'-' if r.rows is None else f'{r.rows:,}'} | | | | |")
    lines += failure_lines(section.runs)

    if section.pinned:
        pinned_base = section.tributary(pinned=True)
        lines += [
            "",
            f"### {section_title(section)}: pinned to one CPU (`taskset -c {args.pin_cpu}`)",
            "",
            "| tool | wall s | CPU s | peak RSS MiB | rows | CPU vs tributary |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in section.pinned:
            if r.ok:
                lines.append(f"| {LABELS[r.tool]} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {r.peak_rss_mib:.0f} "
                             f"| {r.rows:,} | {ratio(r.cpu_s, pinned_base and pinned_base.cpu_s)} |")
            else:
                lines.append(f"| {LABELS[r.tool]} | FAILED ({r.wall_s:.2f}) | {r.cpu_s:.2f} | "
                             f"{r.peak_rss_mib:.0f} | {'-' if r.rows is None else f'{r.rows:,}'} | |")
        lines += failure_lines(section.pinned)

    lines.append("")
    for pinned, what in ((False, f"wall time on {cpus()} CPUs"), (True, "CPU time pinned to one CPU")):
        ran = {r.tool for r in (section.pinned if pinned else section.runs)}
        if "polars" in ran and ran & {"tributary", "tributary-schema"}:
            value = section.target(pinned)
            lines.append(f"- tributary / polars, {what}: " + (
                f"{verdict(value)} the target of ≤ {TARGET_RATIO:g}" if value is not None else "n/a (a run failed)"))
    if section.identity is not None:
        took = f" (its run: {section.identity.wall_s:.2f} s wall)" if section.identity.wall_s else ""
        lines.append(f"- output against the reference binary{took}: {section.identity.result}")
    return "\n".join(lines).rstrip("\n")


def failure_lines(runs: list[Run]) -> list[str]:
    """The 'Failures:' list under a table, or nothing."""
    failures = [r for r in runs if not r.ok]
    if not failures:
        return []
    return ["", "Failures:", ""] + [f"- {LABELS[r.tool]}: {r.error}" for r in failures]


def summary_markdown(sections: list[Section]) -> str:
    """The summary table: each shape at its largest size measured so far, against the target, with tributary's
    peak RSS at every size (flat is the goal) and the identity result."""
    lines = [
        "## Summary: each shape at its largest size",
        "",
        f"tributary / polars: at most {TARGET_RATIO:g} is the target; peak RSS is tributary's (the inferred run).",
        "",
        f"| shape | MB | rows | tributary / polars wall, {cpus()} CPUs | tributary / polars CPU, 1 CPU "
        "| tributary peak RSS MiB | tributary peak RSS MiB by size | tributary Parquet MB (polars') | output vs reference |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for shape in dict.fromkeys(s.shape for s in sections):
        of_shape = sorted((s for s in sections if s.shape == shape), key=lambda s: s.size_mb)
        last = of_shape[-1]
        ours = last.tributary()
        by_size = ", ".join(f"{size_label(s.size_mb)} MB: {s.tributary().peak_rss_mib:.0f}"
                            for s in of_shape if s.tributary())
        identity = "not checked" if last.identity is None else last.identity.result.replace("|", "\\|")
        theirs = last.polars()
        size = "n/a" if not (ours and ours.parquet_mb) else f"{ours.parquet_mb:,.1f}"
        if theirs and theirs.parquet_mb:
            size += f" ({theirs.parquet_mb:,.1f})"
        lines.append(f"| {shape} | {size_label(last.size_mb)} | {last.rows:,} | {verdict(last.target(False))} "
                     f"| {verdict(last.target(True))} | {f'{ours.peak_rss_mib:.0f}' if ours else 'n/a'} "
                     f"| {by_size or 'n/a'} | {size} | {identity} |")
    return "\n".join(lines).rstrip("\n")


def report(header: str, sections: list[Section], args: argparse.Namespace) -> str:
    """The whole report: header, summary, then a section per shape and size."""
    parts = [header, summary_markdown(sections)] + [section_markdown(s, args) for s in sections]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def tool_list(text: str, parser: argparse.ArgumentParser, option: str) -> list[str]:
    """A comma-separated list of tools, checked against ALL_TOOLS."""
    tools = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in tools if t not in ALL_TOOLS]
    if unknown:
        parser.error(f"{option}: unknown tools {unknown}; choose from {ALL_TOOLS}")
    return tools


def size_list(text: str, parser: argparse.ArgumentParser, option: str) -> list[float]:
    """A comma-separated list of positive sizes in MB, without repeats."""
    try:
        sizes = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        parser.error(f"{option} must be comma-separated numbers")
    if not sizes or any(s <= 0 for s in sizes):
        parser.error(f"{option} must be positive")
    return list(dict.fromkeys(sizes))  # each size once, in the order given


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tributary", help="path to the tributary binary (needed for the tributary tools)")
    parser.add_argument("--shapes", default=",".join(ALL_SHAPES),
                        help=f"comma-separated data shapes, run in that order (default {','.join(ALL_SHAPES)})")
    parser.add_argument("--sizes", default="100,1000",
                        help="comma-separated input sizes in MB for every shape (default 100,1000)")
    parser.add_argument("--shape-sizes", action="append", default=[], metavar="SHAPE=SIZES",
                        help="sizes for one shape instead of --sizes, e.g. telemetry=100,1000,5000 (repeatable)")
    parser.add_argument("--tools", default=",".join(ALL_TOOLS),
                        help=f"comma-separated subset of {','.join(ALL_TOOLS)} (default all), run in that order")
    parser.add_argument("--large-mb", type=float, default=5000,
                        help="from this size (MB) on, only --large-tools run (default 5000)")
    parser.add_argument("--large-tools", default="tributary,polars",
                        help="the tools run at --large-mb and above (default tributary,polars)")
    parser.add_argument("--skip", action="append", default=[], metavar="SHAPES:SIZES:TOOLS",
                        help="leave TOOLS out on SHAPES at SIZES (MB), all comma-separated, e.g. "
                             "orders_text,telemetry,narrow:1000:pandas,pyarrow (repeatable)")
    parser.add_argument("--pinned-tools", default="tributary,polars,duckdb",
                        help="tools run a second time pinned to one CPU (default tributary,polars,duckdb; "
                             "'' for none); only those also in the size's tools run")
    parser.add_argument("--pin-cpu", type=int, default=0, help="the CPU of the pinned runs (default 0)")
    parser.add_argument("--reference-binary",
                        help="another tributary binary: convert every input with it too and compare the outputs")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench-data", help="input/output directory")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results.md", help="markdown report to write")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--schema-dir", type=Path, default=SCRIPTS,
                        help="where <shape>.schema.json are, for 'tributary-schema' (default scripts/)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the Python baselines (default: this one)")
    parser.add_argument("--skip-generate", action="store_true", help="fail instead of generating missing inputs")
    parser.add_argument("--keep-outputs", action="store_true", help="keep the Parquet outputs of successful runs")
    parser.add_argument("--timeout", type=float, default=1800, help="per-run timeout in seconds (default 1800)")
    args = parser.parse_args(argv)

    args.shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in args.shapes if s not in ALL_SHAPES]
    if unknown or not args.shapes:
        parser.error(f"--shapes: unknown shapes {unknown}; choose from {ALL_SHAPES}")
    sizes = size_list(args.sizes, parser, "--sizes")
    args.shape_sizes, overrides = {shape: sizes for shape in args.shapes}, args.shape_sizes
    for item in overrides:
        shape, sep, shape_sizes = item.partition("=")
        if not sep or shape.strip() not in args.shapes:
            parser.error(f"--shape-sizes {item!r}: expected SHAPE=SIZES with SHAPE one of --shapes ({args.shapes})")
        args.shape_sizes[shape.strip()] = size_list(shape_sizes, parser, f"--shape-sizes {item!r}")
    args.tools = tool_list(args.tools, parser, "--tools")
    rules, args.skip = args.skip, []
    for rule in rules:
        parts = rule.split(":")
        shapes = [s.strip() for s in parts[0].split(",") if s.strip()]
        if len(parts) != 3 or not shapes or any(s not in ALL_SHAPES for s in shapes):
            parser.error(f"--skip {rule!r}: expected SHAPES:SIZES:TOOLS with shapes from {ALL_SHAPES}")
        args.skip.append((shapes, size_list(parts[1], parser, f"--skip {rule!r}"),
                          tool_list(parts[2], parser, f"--skip {rule!r}")))
    args.large_tools = tool_list(args.large_tools, parser, "--large-tools")
    args.pinned_tools = [t for t in tool_list(args.pinned_tools, parser, "--pinned-tools") if t in args.tools]
    if args.pinned_tools:
        if not shutil.which("taskset"):
            parser.error("taskset (util-linux) is needed for the pinned runs; pass --pinned-tools '' to skip them")
        if args.pin_cpu not in os.sched_getaffinity(0):
            parser.error(f"--pin-cpu {args.pin_cpu} is not one of this process's CPUs "
                         f"{sorted(os.sched_getaffinity(0))}")
    if any(t.startswith("tributary") for t in args.tools):
        if not args.tributary:
            parser.error("--tributary PATH is required to run the tributary tools (or pass --tools without them)")
        args.tributary = executable(args.tributary, parser)
    if args.reference_binary:
        if "tributary" not in args.tools:
            parser.error("--reference-binary compares with the 'tributary' run: keep it in --tools")
        args.reference_binary = executable(args.reference_binary, parser)
    return args


def executable(path: str, parser: argparse.ArgumentParser) -> str:
    """The absolute path of an executable given by path or name."""
    found = shutil.which(path) or str(Path(path).resolve())
    if not os.access(found, os.X_OK):
        parser.error(f"{found} is not an executable file")
    return found


def tools_for(shape: str, size_mb: float, args: argparse.Namespace) -> tuple[list[str], str]:
    """The tools that run on one input, in --tools order, and which were left out and why ("" for none)."""
    tools, notes = list(args.tools), []
    if size_mb >= args.large_mb:
        left_out = [t for t in tools if t not in args.large_tools]
        tools = [t for t in tools if t in args.large_tools]
        if left_out:
            notes.append(f"{', '.join(LABELS[t] for t in left_out)} (only {', '.join(LABELS[t] for t in tools)} "
                         f"run from {size_label(args.large_mb)} MB on)")
    skip = {t for shapes, sizes, skip_tools in args.skip if shape in shapes and size_mb in sizes for t in skip_tools}
    if skip & set(tools):
        notes.append(f"{', '.join(LABELS[t] for t in tools if t in skip)} (--skip)")
        tools = [t for t in tools if t not in skip]
    return tools, "; ".join(notes)


def skip_text(rule: tuple[list[str], list[float], list[str]]) -> str:
    """A --skip rule in words: 'pandas, pyarrow (stream) on orders_text, telemetry at 1000 MB'."""
    shapes, sizes, tools = rule
    return (f"{', '.join(LABELS[t] for t in tools)} on {', '.join(shapes)} at "
            f"{', '.join(size_label(s) for s in sizes)} MB")


def measure(shape: str, size_mb: float, src: Path, rows: int, args: argparse.Namespace) -> Section:
    """Run every tool for one input (then the pinned runs and the identity check); print progress."""
    work_dir = args.data_dir / "out" / f"{shape}_{size_label(size_mb)}mb"
    work_dir.mkdir(parents=True, exist_ok=True)
    tools, skipped = tools_for(shape, size_mb, args)
    section = Section(shape, size_mb, src, rows, [], [], skipped, None)
    where = f"[{shape} {size_label(size_mb)} MB]"
    for tool, pinned in [(t, False) for t in tools] + [(t, True) for t in args.pinned_tools if t in tools]:
        print(f"{where} {LABELS[tool]}{', 1 CPU' if pinned else ''} ...", end=" ", flush=True)
        # The inferred run's output is compared with the reference's, so it is kept until then.
        keep = bool(args.reference_binary) and tool == "tributary" and not pinned
        run = run_tool(tool, src, shape, rows, work_dir, args, pinned=pinned, keep=keep)
        status = f"{run.rows:,} rows" if run.ok else f"FAILED: {run.error}"
        print(f"{run.wall_s:.2f} s, {run.cpu_s:.2f} CPU s, {run.peak_rss_mib:.0f} MiB, {status}", flush=True)
        (section.pinned if pinned else section.runs).append(run)
    if args.reference_binary:
        print(f"{where} reference ...", end=" ", flush=True)
        ours = next((r for r in section.runs if r.tool == "tributary"), None)
        section.identity = check_identity(src, work_dir, ours, args)
        print(section.identity.result, flush=True)
    return section


def main(argv: list[str] | None = None) -> int:
    ensure_pyarrow()
    args = parse_args(argv)
    # Prepare every input first, so a missing file fails before any time is spent measuring.
    inputs = [(shape, size_mb, *ensure_input(args.data_dir, shape, size_mb, args.seed, args.skip_generate))
              for shape in args.shapes for size_mb in args.shape_sizes[shape]]
    header = machine_header(args, rss_floor_mib())
    print(header + "\n", flush=True)
    sections = []
    all_ok = True
    for shape, size_mb, src, rows in inputs:
        section = measure(shape, size_mb, src, rows, args)
        all_ok &= all(r.ok for r in section.runs + section.pinned)
        print("\n" + section_markdown(section, args) + "\n", flush=True)
        sections.append(section)
        # Write after every input so a long run keeps what it has measured.
        args.out.write_text(report(header, sections, args))
    print(summary_markdown(sections) + "\n")
    print(f"wrote {args.out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
