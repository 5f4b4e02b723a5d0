"""The latency table the demo's report ends with: p50, p95 and p99 of each function's `DurationMs` and of each of its
steps (every other `…Ms` metric: `S3ReadMs`, `ConvertMs`, `S3UploadMs`, `CopyMs`, `MergeMs`), read from the EMF
records the functions printed (the log `cargo lambda watch` keeps), as CloudWatch would compute them from the same
records in AWS."""

from __future__ import annotations

import json
import math


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def durations(log_text: str) -> dict[str, list[float]]:
    """Each function's `DurationMs` values (keyed by the function) and its steps' (`function / S3ReadMs`), from the
    EMF records among `log_text`'s lines."""
    found: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        function = record.get("Function")
        if not isinstance(function, str):
            continue
        for name, value in record.items():
            if name.endswith("Ms") and isinstance(value, (int, float)) and not isinstance(value, bool):
                step = function if name == "DurationMs" else f"{function} / {name}"
                found.setdefault(step, []).append(float(value))
    return found


def latency_table(log_text: str) -> list[dict]:
    """One row per function: how many records, and p50, p95 and p99 in milliseconds."""
    return [{"step": function, "n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
             "p99": percentile(values, 99)}
            for function, values in sorted(durations(log_text).items())]


def print_latency(rows: list[dict], p) -> None:
    p("\nLatency per step (ms; the functions' EMF records, p50 / p95 / p99)")
    for r in rows:
        p(f"  {r['step']:<34} {r['n']:>4} records  {r['p50']:9.1f} {r['p95']:9.1f} {r['p99']:9.1f}")
