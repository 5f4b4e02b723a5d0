"""A burst of small curated files into one PostgreSQL table: one load per file (as the state machine runs them,
one after another and four at a time, the loader's reserved concurrency) next to the same files grouped (one
load, one transaction, for all of them or per group of 25).

Usage: bench_burst.py --tributary PATH [--files 200] [--rows 500] [--out bench-results.md]
Every way loads the same Parquet files into a table of its own, through `tributary load` (ledger included), and
is checked by counting rows and ledger entries. Starts and stops its own PostgreSQL (bench_load.Postgres).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import SCHEMA, Postgres, make_rows, write_section  # noqa: E402


def load(tributary: str, url: str, table: str, files: list[Path]) -> dict:
    out = subprocess.run([tributary, "load", "--warehouse", url, "--table", table, *map(str, files)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def check(url: str, table: str, rows: int, files: int) -> None:
    with psycopg.connect(url) as c:
        got = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        ledger = c.execute("SELECT count(*) FROM bench.tributary_load_ledger WHERE table_name = %s", (table,)).fetchone()[0]
    assert (got, ledger) == (rows, files), f"{table}: {got} rows, {ledger} ledger entries"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tributary", required=True)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--rows", type=int, default=500, help="rows per file")
    p.add_argument("--group", type=int, default=25, help="files per grouped load")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--out", type=Path)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        schema = root / "schema.json"
        schema.write_text(json.dumps(SCHEMA))
        files = []
        rows = list(make_rows(args.files * args.rows, 7))
        for i in range(args.files):
            csv_path, parquet = root / f"f{i:04d}.csv", root / f"f{i:04d}.parquet"
            with open(csv_path, "w") as f:
                f.write("order_id,line_no,qty,price,at\n")
                f.writelines(",".join(map(str, r)) + "\n" for r in rows[i * args.rows:(i + 1) * args.rows])
            subprocess.run([args.tributary, "convert", str(csv_path), str(parquet), "--schema", str(schema)],
                           check=True, stdout=subprocess.DEVNULL)
            files.append(parquet)
        total = args.files * args.rows
        pg = Postgres(root)
        results = []
        try:
            def timed(name: str, table: str, loads: list[list[Path]], workers: int) -> None:
                start = time.perf_counter()
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(lambda fs: load(args.tributary, pg.url, table, fs), loads))
                elapsed = time.perf_counter() - start
                check(pg.url, table, total, args.files)
                results.append((name, len(loads), elapsed))

            one_each = [[f] for f in files]
            timed("one load per file, one at a time", "bench.each_serial", one_each, 1)
            timed(f"one load per file, {args.concurrency} at a time", "bench.each_burst", one_each, args.concurrency)
            groups = [files[i:i + args.group] for i in range(0, len(files), args.group)]
            timed(f"grouped: {args.group} files per load, {args.concurrency} at a time", "bench.grouped", groups,
                  args.concurrency)
            timed("grouped: all files in one load", "bench.one_load", [files], 1)
        finally:
            pg.stop()

    base = results[0][2]
    lines = ["", f"## A burst of {args.files} files × {args.rows} rows into one PostgreSQL table (loopback, fsync off; one run)", "",
             "| how | loads (transactions) | seconds | rows/s | speed-up over one at a time |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, loads, secs in results:
        lines.append(f"| {name} | {loads} | {secs:.2f} | {total / secs:,.0f} | {base / secs:.1f}× |")
    write_section(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
