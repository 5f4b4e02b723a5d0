#!/usr/bin/env python3
"""Baseline: CSV -> Parquet with DuckDB.

Usage: python3 scripts/baselines/duckdb_convert.py IN.csv OUT.parquet

One ``COPY (SELECT * FROM read_csv_auto(...)) TO ... (FORMAT PARQUET)`` statement on an in-memory
database: DuckDB sniffs the dialect and types, and reads and writes in parallel on all cores
(its default thread count is the number of cores; the environment variable DUCKDB_THREADS sets another,
as scripts/bench.py does for its run pinned to one CPU).
"""

import os
import sys

import duckdb


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:]
    threads = os.environ.get("DUCKDB_THREADS")
    con = duckdb.connect(config={"threads": int(threads)} if threads else {})  # in-memory
    con.execute("COPY (SELECT * FROM read_csv_auto(?)) TO '" + dst.replace("'", "''") + "' (FORMAT PARQUET)", [src])
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
