"""Rows per second loading 1 M rows into PostgreSQL: `tributary load` (COPY FROM STDIN from Parquet) next to
row-by-row INSERTs and batched multi-row INSERTs (psycopg, what a Python loader would use), in the same run.

Usage: bench_load.py --tributary PATH [--rows 1000000] [--row-by-row-rows 100000] [--out bench-results.md]
Starts a throwaway PostgreSQL (initdb in a temp dir, free loopback port, as the `postgres` user when run as
root), and stops it by PID at the end. Row-by-row INSERTs are timed on a sample of the rows (one round trip per
row makes 1 M of them take minutes); the rate is what is compared. Every load is checked by counting rows.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

COLUMNS = "order_id text NOT NULL, line_no bigint NOT NULL, qty bigint, price numeric(12,2), at timestamptz"
SCHEMA = {"columns": [
    {"name": "order_id", "type": "string", "nullable": False}, {"name": "line_no", "type": "int64", "nullable": False},
    {"name": "qty", "type": "int64"}, {"name": "price", "type": "decimal(12,2)"}, {"name": "at", "type": "timestamp"},
]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway cluster; `stop()` ends it by PID and removes it."""

    def __init__(self, root: Path):
        self.dir = root / "pg"
        self.dir.mkdir()
        self.port = free_port()
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        bindir = Path("/usr/lib/postgresql/15/bin")
        initdb = shutil.which("initdb") or str(bindir / "initdb")
        postgres = shutil.which("postgres") or str(bindir / "postgres")
        subprocess.run(as_postgres + [initdb, "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc = subprocess.Popen(as_postgres + [postgres, "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
                                      "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        for _ in range(100):
            try:
                psycopg.connect(self.url).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise SystemExit("PostgreSQL did not start")

    def stop(self) -> None:
        pid_file = self.dir / "data" / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), 2)  # SIGINT: fast shutdown
        self.proc.wait(timeout=30)


def write_section(lines: list[str], out: Path | None) -> None:
    """Prints a results section and appends it to `out` (bench-results.md), as every bench script does."""
    text = "\n".join(lines + [""])
    print(text)
    if out:
        with open(out, "a") as f:
            f.write(text + "\n")


def make_rows(n: int, seed: int):
    rng = random.Random(seed)
    for i in range(n):
        yield (f"PO-{i // 4:07d}", i % 4 + 1, rng.randint(1, 500), f"{rng.randint(1, 99999) / 100:.2f}",
               f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z")


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tributary", required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--row-by-row-rows", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000, help="rows per multi-row INSERT")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        rows = list(make_rows(args.rows, args.seed))
        csv_path, parquet, schema = root / "rows.csv", root / "rows.parquet", root / "schema.json"
        with open(csv_path, "w") as f:
            f.write("order_id,line_no,qty,price,at\n")
            f.writelines(",".join(map(str, r)) + "\n" for r in rows)
        schema.write_text(json.dumps(SCHEMA))
        subprocess.run([args.tributary, "convert", str(csv_path), str(parquet), "--schema", str(schema)], check=True, stdout=subprocess.DEVNULL)
        pg = Postgres(root)
        try:
            results = []
            # tributary load: Parquet → COPY FROM STDIN, one transaction (including the ledger).
            start = time.perf_counter()
            out = subprocess.run([args.tributary, "load", "--warehouse", pg.url, "--table", "bench.tributary", str(parquet)],
                                 check=True, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            assert json.loads(out.stdout)["rows_loaded"] == args.rows and count(pg.url, "bench.tributary") == args.rows
            results.append(("tributary load (Parquet → COPY)", args.rows, elapsed))

            with psycopg.connect(pg.url, autocommit=False) as c:
                c.execute(f"CREATE TABLE bench.single ({COLUMNS}); CREATE TABLE bench.multi ({COLUMNS})")
                c.commit()
                sample = rows[: args.row_by_row_rows]
                start = time.perf_counter()
                with c.cursor() as cur:
                    for r in sample:
                        cur.execute("INSERT INTO bench.single VALUES (%s, %s, %s, %s, %s)", r)
                c.commit()
                elapsed = time.perf_counter() - start
                results.append(("row-by-row INSERT (psycopg, one transaction)", len(sample), elapsed))

                start = time.perf_counter()
                placeholders = "(" + ", ".join(["%s"] * 5) + ")"
                with c.cursor() as cur:
                    for i in range(0, len(rows), args.batch):
                        chunk = rows[i : i + args.batch]
                        cur.execute("INSERT INTO bench.multi VALUES " + ", ".join([placeholders] * len(chunk)), [v for r in chunk for v in r])
                c.commit()
                elapsed = time.perf_counter() - start
                results.append((f"multi-row INSERT ({args.batch} rows per statement)", args.rows, elapsed))
            assert count(pg.url, "bench.single") == len(sample) and count(pg.url, "bench.multi") == args.rows
        finally:
            pg.stop()

    base = results[0][1] / results[0][2]
    lines = ["", f"## Loading {args.rows:,} rows into PostgreSQL 15 (loopback, fsync off; one run)", "",
             "| method | rows | seconds | rows/s | tributary ÷ method |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, n, secs in results:
        lines.append(f"| {name} | {n:,} | {secs:.2f} | {n / secs:,.0f} | {base / (n / secs):.1f}× |")
    write_section(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
