#!/usr/bin/env python3
"""Baseline: CSV -> Parquet with pandas, the way most Lambda tutorials do it.

Usage: python3 scripts/baselines/pandas_convert.py IN.csv OUT.parquet

Reads the whole CSV into a DataFrame with default options (pandas' C parser, which is
single-threaded; it handles quoted embedded newlines), then writes it with the default Parquet
engine (pyarrow, snappy compression). The whole table is held in memory at once.
"""

import sys

import pandas as pd


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:]
    df = pd.read_csv(src)
    df.to_parquet(dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
