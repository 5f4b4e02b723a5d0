"""Unit tests of latency.py (part of `make test`, through `make demo-unit`)."""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: the package is `demo`

from demo.latency import latency_table, percentile  # noqa: E402


def emf(function: str, ms: float, **steps: float) -> str:
    return json.dumps({"Function": function, "DurationMs": ms, **steps,
                       "_aws": {"Timestamp": 1, "CloudWatchMetrics": []}})


class LatencyTest(unittest.TestCase):
    def test_nearest_rank_percentiles(self):
        values = [float(v) for v in range(1, 101)]
        self.assertEqual((percentile(values, 50), percentile(values, 95), percentile(values, 99)), (50.0, 95.0, 99.0))
        self.assertEqual(percentile([7.0], 99), 7.0)

    def test_each_step_of_a_function_gets_its_own_row(self):
        log = "\n".join([emf("csv-to-parquet", 30, S3ReadMs=4, ConvertMs=20, RowsOut=9),
                         emf("csv-to-parquet", 10, S3ReadMs=2, ConvertMs=6)])
        rows = {r["step"]: (r["n"], r["p50"], r["p99"]) for r in latency_table(log)}
        self.assertEqual(rows, {"csv-to-parquet": (2, 10.0, 30.0), "csv-to-parquet / ConvertMs": (2, 6.0, 20.0),
                                "csv-to-parquet / S3ReadMs": (2, 2.0, 4.0)})

    def test_only_emf_records_with_a_duration_count_per_function(self):
        log = "\n".join([emf("csv-to-parquet", 30), '{"level":"INFO","message":"DurationMs"}', "not json",
                         emf("csv-to-parquet", 10), emf("kinesis-normalizer", 2),
                         json.dumps({"Function": "x", "_aws": {}})])
        rows = latency_table(log)
        self.assertEqual([(r["step"], r["n"], r["p50"], r["p99"]) for r in rows],
                         [("csv-to-parquet", 2, 10.0, 30.0), ("kinesis-normalizer", 1, 2.0, 2.0)])


if __name__ == "__main__":
    unittest.main()
