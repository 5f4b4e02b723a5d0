"""CPU time to normalize a 10,000-record Kinesis batch: `tributary normalize` next to the Python equivalent.

Usage: bench_normalize.py --tributary PATH [--records 10000] [--runs 5] [--out bench-results.md]
Both run as separate processes on the same seeded event file, one after the other, several times; the table
shows the median user+sys CPU of each whole process, and for Python also the CPU of its normalization loop alone
(without interpreter start-up and imports), so start-up cost cannot flatter either side. Appends to --out.
"""

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPES = ["order_placed", "Page View", "cart.updated", "payment-captured", "user_signed_in"]


def make_event(records: int, seed: int) -> dict:
    """A Kinesis batch shaped like events/kinesis-batch.json: camelCase keys, nested objects, mixed time formats,
    ~1% duplicates and ~0.5% poison records."""
    rng = random.Random(seed)
    base = 1795255200
    out = []
    for i in range(records):
        seq = f"49590338271490256608559692538361571095921575989{i:09d}"
        r = rng.random()
        if r < 0.005:
            raw = b"{not json"
        else:
            event_id = f"evt-{i - 1 if r < 0.015 else i}"
            t = base + rng.randint(0, 7200)
            when = rng.choice([f"2026-11-21T{10 + (t - base) // 3600:02d}:{(t // 60) % 60:02d}:{t % 60:02d}.{rng.randint(0, 999):03d}Z", t, t * 1000 + rng.randint(0, 999)])
            payload = {
                "eventId": event_id,
                "eventType": rng.choice(TYPES),
                rng.choice(["eventTime", "timestamp", "ts"]): when,
                "customerId": f"cust-{rng.randint(1, 5000)}",
                "sessionId": f"  s-{rng.getrandbits(48):012x} ",
                "orderTotal": f"{rng.randint(100, 99999) / 100:.2f}",
                "shippingAddress": {"zipCode": f"{rng.randint(1, 99999):05d}", "countryCode": rng.choice(["US", "DE", "GB"])},
                "lineItems": [{"productId": f"SKU-{rng.randint(10000, 99999)}", "unitPrice": rng.randint(1, 9999) / 100, "quantity": rng.randint(1, 5)} for _ in range(rng.randint(1, 3))],
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            }
            raw = json.dumps(payload).encode()
        out.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"cust-{i % 97}", "sequenceNumber": seq,
                        "data": base64.b64encode(raw).decode(), "approximateArrivalTimestamp": base + 7200 + i / 1000},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000000:{seq}",
            "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/tributary-events",
        })
    return {"Records": out}


def run(cmd: list[str]) -> tuple[float, str]:
    """Runs a command; returns its user+sys CPU seconds and stderr."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {stderr}")
    return usage.ru_utime + usage.ru_stime, stderr


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tributary", required=True)
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        event = Path(tmp) / "batch.json"
        event.write_text(json.dumps(make_event(args.records, args.seed)))
        size_mb = event.stat().st_size / 1e6
        rust, py_proc, py_loop = [], [], []
        for _ in range(args.runs):
            cpu, stderr = run([args.tributary, "normalize", str(event), "--out", str(Path(tmp) / "rust.jsonl")])
            rust.append(cpu)
            rust_summary = json.loads(stderr.strip().splitlines()[-1])
            cpu, stderr = run([sys.executable, str(ROOT / "scripts/baselines/normalize_python.py"), str(event), str(Path(tmp) / "py.jsonl")])
            py_proc.append(cpu)
            py_loop.append(json.loads(stderr.strip().splitlines()[-1])["normalize_cpu_s"])
        rust_events = sum(1 for _ in open(Path(tmp) / "rust.jsonl"))
        py_events = sum(1 for _ in open(Path(tmp) / "py.jsonl"))
        if rust_events != py_events:
            raise SystemExit(f"event counts differ: tributary {rust_events}, python {py_events}")

    r, pp, pl = statistics.median(rust), statistics.median(py_proc), statistics.median(py_loop)
    lines = [
        "",
        f"## Normalizing a {args.records:,}-record Kinesis batch ({size_mb:.1f} MB event, {rust_events:,} events, "
        f"{rust_summary['duplicates']} duplicates, {rust_summary['dead_lettered']} poison; median of {args.runs} runs)",
        "",
        "| tool | CPU s (whole process) | CPU s (normalization only) | CPU vs tributary |",
        "| --- | ---: | ---: | ---: |",
        f"| tributary normalize | {r:.3f} | (same) | 1.00× |",
        f"| Python json.loads + dict rewrite | {pp:.3f} | {pl:.3f} | {pp / r:.2f}× (loop only: {pl / r:.2f}×) |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
