#!/usr/bin/env python3
"""Baseline: CSV -> Parquet with pyarrow's streaming CSV reader.

Usage: python3 scripts/baselines/pyarrow_stream.py IN.csv OUT.parquet

``pyarrow.csv.open_csv`` reads the file block by block (multi-threaded parsing by default) and
yields record batches, which are appended to a ``pyarrow.parquet.ParquetWriter``, so memory stays
bounded by a few blocks rather than the whole table. ``newlines_in_values=True`` is required:
the data has quoted fields with embedded newlines, and without it the reader splits rows there.

Note: the streaming reader infers column types from the first block only; a later block whose
values do not fit the inferred type makes it fail rather than widen the type.
"""

import sys

import pyarrow.csv as pv
import pyarrow.parquet as pq


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:]
    reader = pv.open_csv(src, parse_options=pv.ParseOptions(newlines_in_values=True))
    with pq.ParquetWriter(dst, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
