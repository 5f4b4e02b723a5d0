#!/usr/bin/env python3
"""Baseline: CSV -> Parquet with polars, streaming.

Usage: python3 scripts/baselines/polars_convert.py IN.csv OUT.parquet

``pl.scan_csv(IN).sink_parquet(OUT)`` runs a lazy query on polars' streaming engine: the CSV is
read in morsels on all cores and written straight to Parquet without materialising the table.
It was chosen over the eager ``pl.read_csv(IN).write_parquet(OUT)``: both parse the quoted
embedded newlines correctly (same row count and contents), but on a 1 GB file the streaming sink
was faster (~3.9 s vs ~6.5 s wall on 2 cores) and peaked at ~0.47 GB RSS instead of ~2 GB.
"""

import sys

import polars as pl


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:]
    pl.scan_csv(src).sink_parquet(dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
