"""The seeded sample data the flows feed in: order-line CSV files with broken rows, Kinesis records from three kinds
of producers (one poison, one redelivered), purchase orders (valid, duplicate, invalid); and the clock's ISO time."""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from datetime import datetime, timezone
from pathlib import Path

from .settings import ROOT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gen_order_lines  # noqa: E402  (the benchmark's seeded generator, in scripts/)

BAD_ROWS = [  # (what is wrong, how to break a good row)
    ("a quantity that is not an integer", lambda r: r.__setitem__(6, "three")),
    ("a price that is not a decimal", lambda r: r.__setitem__(7, "12.3.4")),
    ("no order_id (not nullable)", lambda r: r.__setitem__(0, "")),
    ("a timestamp that does not parse", lambda r: r.__setitem__(11, "yesterday")),
    ("a boolean that is not one", lambda r: r.__setitem__(12, "maybe")),
    ("a missing field", lambda r: r.pop()),
]


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def order_lines_csv(work: Path, seed: int, size_mb: float, bad_every: int | None, bad_count: int) -> tuple[bytes, int, int]:
    """Generated order lines with `bad_count` broken rows spread through them: (bytes, data rows, bad rows)."""
    raw = work / f"order_lines_{seed}.csv"
    gen_order_lines.generate(str(raw), size_mb, seed)
    with open(raw, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    rng = random.Random(seed)
    step = bad_every or max(1, len(body) // (bad_count + 1))
    positions = [step * (i + 1) for i in range(bad_count) if step * (i + 1) < len(body)]
    for n, index in enumerate(positions):
        # Each kind of fault once, then drawn at random.
        _, break_row = BAD_ROWS[n] if n < len(BAD_ROWS) else rng.choice(BAD_ROWS)
        break_row(body[index])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode(), len(body), len(positions)


def kinesis_payloads(seed: int) -> tuple[list[tuple[str, bytes]], dict]:
    """(partition key, data) records: three shapes of producers, one poison record and one redelivered event."""
    rng = random.Random(seed)
    records: list[tuple[str, bytes]] = []
    base = int(datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc).timestamp())
    for i in range(60):
        customer = f"cust-{rng.randint(1, 12)}"
        t = base + i * 7
        shape = i % 3
        if shape == 0:  # camelCase producer, ISO times
            doc = {"eventId": f"evt-{i:04d}", "eventType": "order_placed",
                   "eventTime": datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z"),
                   "customerId": customer, "orderTotal": f"{rng.randint(100, 99999) / 100:.2f}",
                   "shippingAddress": {"zipCode": f" {rng.randint(10000, 99999)} "}}
        elif shape == 1:  # web tracker, epoch seconds, spaced type names
            doc = {"eventId": f"evt-{i:04d}", "type": "Page View", "timestamp": t, "customerId": customer,
                   "pageUrl": rng.choice(["/", "/cart", "/checkout", "/orders"])}
        else:  # a service with short names, epoch milliseconds
            doc = {"id": f"evt-{i:04d}", "eventType": "order_shipped", "ts": t * 1000 + rng.randint(0, 999),
                   "customerId": customer, "carrier": rng.choice(["UPS", "DHL", "FedEx"])}
        records.append((customer, json.dumps(doc).encode()))
    duplicate_index = 3
    records.append(records[duplicate_index])  # a producer retry: the same event again
    records.insert(25, ("cust-0", b"{\"eventId\": \"evt-broken\", \"eventType\": "))  # poison: truncated JSON
    return records, {"events": 60, "duplicates": 1, "poison": 1}


def purchase_orders(seed: int) -> list[tuple[str, dict, str]]:
    """(file name, order, what the validator should decide) for the orders flow."""
    rng = random.Random(seed)
    vendors = ["Acme, Inc.", "Globex GmbH", "Initech", "Umbrella Corp", "Soylent Ltd"]
    orders = []
    for n in range(1, 7):
        lines = [{"product_id": f"SKU-{rng.randint(10000, 99999)}", "quantity": rng.randint(1, 20),
                  "unit_price": f"{rng.randint(50, 50000) / 100:.2f}"} for _ in range(rng.randint(1, 4))]
        total = sum(round(float(line["unit_price"]) * 100) * line["quantity"] for line in lines)
        orders.append((f"PO-{2000 + n}.json", {
            "order_id": f"PO-{2000 + n}", "vendor": rng.choice(vendors), "customer_id": rng.randint(1, 500),
            "currency": rng.choice(["USD", "EUR", "GBP"]), "created_at": f"2026-11-21T{8 + n:02d}:15:00Z",
            "line_items": lines, "total": f"{total // 100}.{total % 100:02d}"}, "valid"))
    orders.append(("PO-2002-resent.json", json.loads(json.dumps(orders[1][1])), "duplicate"))
    # The order events/s3-object-created-order.json names, for invoking the validator by hand (--stay).
    orders.append(("PO-1001.json", json.loads((ROOT / "events/sfn-validate-order.json").read_text()), "valid"))
    orders.append(("PO-2090.json", {
        "order_id": "PO-2090", "vendor": "   ", "customer_id": "C-17", "currency": "USX",
        "created_at": "21/11/2026", "line_items": [{"product_id": "", "quantity": 0, "unit_price": "-4.00"}],
        "total": "lots"}, "invalid"))
    orders.append(("PO-2091.json", {
        "order_id": "PO-2091", "vendor": "Initech", "customer_id": 7, "currency": "EUR",
        "created_at": "2026-11-21T12:00:00Z", "line_items": [{"product_id": "SKU-1", "quantity": 2, "unit_price": "10.00"}],
        "total": "25.00"}, "invalid"))
    return orders
