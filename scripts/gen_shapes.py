#!/usr/bin/env python3
"""Seeded, deterministic generators of the CSV -> Parquet benchmark's data shapes.

Usage:
    python3 scripts/gen_shapes.py --shape telemetry --size-mb 100 --seed 42 --out bench-data/telemetry_100mb_seed42.csv

Shapes (each has a declared schema in scripts/<shape>.schema.json):

    order_lines  purchase-order lines with short text (scripts/gen_order_lines.py, called unchanged: the same
                 seed gives the same bytes as before)
    orders_text  purchase-order lines, ~480 bytes a row, most of it a long free-text note:
                     order_id     PO-0001234, one value per order (an order has 1..8 lines)
                     line_no      1..n within the order
                     customer_id  integer, per order
                     product_id   SKU-01234
                     quantity     1..500
                     unit_price   decimal with exactly 2 places
                     line_total   decimal with exactly 2 places
                     adjustment   decimal with 2 places, may be negative, empty in ~60% of rows
                     order_date   YYYY-MM-DD, per order
                     created_at   ISO-8601 with milliseconds and a UTC offset, 2026-11-21T10:15:30.123+02:00 or
                                  -05:00 (also +05:30, +00:00 ...), per order
                     updated_at   ISO-8601 with an offset, whole seconds, empty in ~30% of rows, per order
                     gift         true / false, per order
                     notes        100-600 characters (median ~350), always quoted: commas in nearly all, doubled
                                  quotes in ~75%, non-ASCII UTF-8 in ~45%, a quoted newline in ~2%
    telemetry    device readings, numeric-heavy, ~220 bytes a row:
                     ts           ISO-8601 UTC with milliseconds, 2026-03-01T10:15:30.123Z, non-decreasing
                     device_id    dev-3fa9c2 (5000 devices)
                     19 floats    varied magnitudes and precision (1 to 6 places, negatives); flow_rate uses
                                  exponent notation in ~10% of rows (3.210e-07), energy_wh and noise are printed
                                  with up to 17 significant digits (Python repr, so noise has an exponent now and
                                  then); every value has a point or an exponent, so no column looks integral
                     error_code, retry_count, firmware_build
                                  sparse integers: empty (null) in ~95%, ~93% and ~90% of rows
    narrow       short strings and categoricals, ~27 bytes a row (~37,000 rows per MB):
                     country      ISO 3166 alpha-2 code, ~40 values, skewed
                     status       pending / shipped / delivered / cancelled / returned, skewed
                     code         3-8 uppercase letters and digits, starting with a letter (50,000 values)
                     qty          0..99
                     active       true / false

Lines end with "\\n". A file stops after the row that takes it to at least --size-mb * 1e6 bytes (header
included), so it is slightly larger than the target. Nothing in any shape reads as a missing value to the
baselines' defaults (no NA, NULL, NaN, ...): an empty field is the only null.

Speed: as in gen_order_lines.py, every field is drawn from a pre-rendered (and, where needed, pre-quoted) pool
of strings with ``random.choices`` and rows are assembled with ``",".join`` over ``zip``, one fixed-size chunk
at a time. The pools of the high-precision floats hold 2^18 values each (nearly all distinct), so their Parquet
dictionaries overflow the usual 1 MB page limit as real readings would; drawing from them is what makes telemetry
the slowest shape to write. A notes value is two pooled halves joined, so notes repeat rarely. Only the standard
library is used.

Determinism: the output depends only on --shape, --seed and the chunk layout (fixed), never on --size-mb, so a
smaller file is a byte prefix of a larger one with the same shape and seed (up to where it stops).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import string
import sys
import time
from collections.abc import Callable, Iterator
from itertools import chain, repeat

import gen_order_lines
from gen_order_lines import fmt_cents

# Values that pandas (or another reader's defaults) would take for a missing value or a boolean: never generated
# as text, so an empty field is the only null in every tool.
RESERVED_WORDS = {"NA", "NAN", "NULL", "NONE", "NIL", "INF", "INFINITY", "TRUE", "FALSE", "YES", "NO", "N/A"}


def write_chunks(out_path: str, size_mb: float, header: str, chunks: Iterator[list[str]]) -> tuple[int, int]:
    """Write header and rows from chunks to out_path (atomically, via a temp file) until the file reaches
    size_mb * 1e6 bytes; returns (data rows, bytes). The rows of a chunk carry no line terminator."""
    target = int(size_mb * 1_000_000)
    tmp_path = f"{out_path}.tmp{os.getpid()}"
    written = rows = 0
    with open(tmp_path, "wb") as f:
        data = (header + "\n").encode()
        f.write(data)
        written += len(data)
        for chunk_rows in chunks:
            if written >= target:
                break
            data = ("\n".join(chunk_rows) + "\n").encode()
            if written + len(data) >= target:
                # Last chunk: keep rows up to and including the one that crosses the target. Rows may hold
                # embedded newlines, so measure rows rather than splitting the bytes.
                keep = 0
                for row in chunk_rows:
                    keep += 1
                    written += len(row.encode()) + 1
                    if written >= target:
                        break
                f.write(("\n".join(chunk_rows[:keep]) + "\n").encode())
                rows += keep
                break
            f.write(data)
            written += len(data)
            rows += len(chunk_rows)
    os.replace(tmp_path, out_path)
    return rows, written


def per_group(values: list[str], sizes: list[int]) -> list[str]:
    """Repeat each per-group (per-order) value once per row of its group."""
    return list(chain.from_iterable(map(repeat, values, sizes)))


def grid(lo: int, hi: int, places: int) -> list[str]:
    """Every value from lo to hi (inclusive) in steps of 10^-places, rendered with exactly that many places."""
    scale = 10 ** places
    return [f"{i / scale:.{places}f}" for i in range(lo * scale, hi * scale + 1)]


def sparse(rng: random.Random, filled_per_mille: int, values: Callable[[], str]) -> list[str]:
    """A 1000-entry pool: filled_per_mille entries drawn from values(), the rest empty (null)."""
    return [""] * (1000 - filled_per_mille) + [values() for _ in range(filled_per_mille)]


# --------------------------------------------------------------------------------------------
# orders_text
# --------------------------------------------------------------------------------------------

ORDERS_TEXT_HEADER = ("order_id,line_no,customer_id,product_id,quantity,unit_price,line_total,adjustment,"
                      "order_date,created_at,updated_at,gift,notes")
ORDERS_TEXT_ORDERS_PER_CHUNK = 10_000  # ~4.5 lines each: ~45k rows, ~22 MB per chunk

SENTENCES = [
    "Customer asked for delivery before noon, gate code 4411.",
    'Driver must call "Reception" on arrival, not the warehouse.',
    "Pallets to be shrink-wrapped; no mixed SKUs on one pallet, please.",
    "Per our call on Tuesday, the remaining units ship next week.",
    'Label reads "FRAGILE - THIS SIDE UP", keep upright at all times.',
    "Invoice to head office, attn: Accounts Payable, ref 2291.",
    "Replacement for damaged items from the previous order, no charge.",
    "Müller asked whether the brackets can be powder-coated, RAL 7016.",
    'The "rush" fee was waived by the account manager (see e-mail).',
    "Hold at depot until the site is ready; contact J. Smith, ext. 204.",
    "Partial deliveries are fine, but the valves must arrive together.",
    "Société Générale d'Outillage requested certificates of conformity.",
    'Customer says the last batch was "not as described", check QA report.',
    "Use the rear entrance, the loading bay is closed for repairs until Friday.",
    "Prices as agreed in the 2026 framework contract, clause 4.2, no surcharge.",
    "Two cartons arrived crushed last time; double-box, and add corner protectors.",
    'Mark every box "PO" plus the order number, in black marker, on two sides.',
    "Quote 7781 superseded; apply the 3% volume discount to this line only.",
    "Ship with the next consolidated load to Rotterdam, Incoterms FCA.",
    "If out of stock, substitute the galvanised version, same dimensions.",
]


class OrdersTextPools:
    """Pre-rendered field values of the orders_text shape."""

    def __init__(self, rng: random.Random) -> None:
        self.products = [f"SKU-{i:05d}" for i in rng.sample(range(100_000), 20_000)]
        self.quantities = [str(q) for q in range(1, 501)]
        self.prices = [fmt_cents(rng.randint(50, 250_000)) for _ in range(20_000)]
        self.totals = [fmt_cents(rng.randint(50, 5_000_000)) for _ in range(50_000)]
        # 60% empty, the rest -100.00 .. 100.00.
        self.adjustments = [""] * 600 + [
            ("-" if rng.random() < 0.5 else "") + fmt_cents(rng.randint(1, 10_000)) for _ in range(400)]
        start = dt.date(2024, 1, 1)
        self.dates = [(start + dt.timedelta(days=d)).isoformat() for d in range(3 * 366)]
        self.hours = [f"{h:02d}" for h in range(24)]
        self.minsecs = [f"{m:02d}" for m in range(60)]
        self.millis = [f".{ms:03d}" for ms in range(1000)]
        self.offsets = ["+00:00", "+01:00", "+02:00", "+05:30", "+09:00", "-03:00", "-05:00", "-08:00"]
        # updated_at: 30% empty, else one of the 8 offsets.
        self.updated_offsets = [""] * 24 + self.offsets * 7
        self.booleans = ["true", "false"]
        self.line_nos = [tuple(str(i) for i in range(1, n + 1)) for n in range(9)]
        # Note halves, escaped for a quoted field ("" for "): a note is '"' + head + ' ' + tail + '"'.
        self.heads = [self._half(rng, newline=i % 100 == 0) for i in range(5000)]
        self.tails = [self._half(rng, newline=i % 100 == 50) for i in range(5000)]

    @staticmethod
    def _half(rng: random.Random, newline: bool) -> str:
        """About 50..299 characters of sentences (cut at a space before that length), quotes doubled; with a
        newline inside if asked."""
        length = rng.randint(60, 299)
        text = ""
        while len(text) < length + 20:
            text += rng.choice(SENTENCES) + (f" (ref #{rng.randint(1000, 99999)})" if rng.random() < 0.3 else "") + " "
        if newline:
            text = text[:length // 2].rstrip() + "\n" + text[length // 2:]
        text = text[:text.rindex(" ", 0, length + 1)]
        return text.strip().replace('"', '""')


def orders_text_chunks(rng: random.Random) -> Iterator[list[str]]:
    """Chunks of orders_text rows, forever."""
    pools = OrdersTextPools(rng)
    choices = rng.choices
    next_order = 1
    while True:
        n = ORDERS_TEXT_ORDERS_PER_CHUNK
        sizes = choices(range(1, 9), k=n)
        order_ids = [f"PO-{i:07d}" for i in range(next_order, next_order + n)]
        next_order += n
        customers = list(map(str, choices(range(100_000, 1_000_000), k=n)))
        dates = choices(pools.dates, k=n)
        hours, mins, secs = (choices(p, k=n) for p in (pools.hours, pools.minsecs, pools.minsecs))
        millis, offsets = choices(pools.millis, k=n), choices(pools.offsets, k=n)
        upd_hours, upd_offsets = choices(pools.hours, k=n), choices(pools.updated_offsets, k=n)
        gifts = choices(pools.booleans, weights=[1, 9], k=n)
        # order_date,created_at,updated_at,gift are adjacent columns: render them as one string per order.
        order_tail = [
            f"{d},{d}T{h}:{m}:{s}{ms}{off},{f'{d}T{uh}:{m}:{s}{uoff}' if uoff else ''},{g}"
            for d, h, m, s, ms, off, uh, uoff, g
            in zip(dates, hours, mins, secs, millis, offsets, upd_hours, upd_offsets, gifts)]
        rows = sum(sizes)
        notes = list(map('"{} {}"'.format, choices(pools.heads, k=rows), choices(pools.tails, k=rows)))
        columns = [
            per_group(order_ids, sizes),
            list(chain.from_iterable(map(pools.line_nos.__getitem__, sizes))),
            per_group(customers, sizes),
            choices(pools.products, k=rows),
            choices(pools.quantities, k=rows),
            choices(pools.prices, k=rows),
            choices(pools.totals, k=rows),
            choices(pools.adjustments, k=rows),
            per_group(order_tail, sizes),
            notes,
        ]
        yield list(map(",".join, zip(*columns)))


# --------------------------------------------------------------------------------------------
# telemetry
# --------------------------------------------------------------------------------------------

TELEMETRY_FLOATS = ["temp_c", "humidity_pct", "pressure_hpa", "battery_v", "current_a", "power_w", "lat", "lon",
                    "alt_m", "accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z", "rssi_dbm",
                    "flow_rate", "energy_wh", "noise"]
TELEMETRY_SPARSE = ["error_code", "retry_count", "firmware_build"]
TELEMETRY_HEADER = ",".join(["ts", "device_id", *TELEMETRY_FLOATS, *TELEMETRY_SPARSE])
TELEMETRY_ROWS_PER_CHUNK = 100_000  # ~22 MB per chunk
TELEMETRY_CHUNK_SECONDS = 600  # each chunk covers the next 10 minutes
TELEMETRY_START = dt.datetime(2026, 3, 1)
FLOAT_POOL = 1 << 18


class TelemetryPools:
    """Pre-rendered field values of the telemetry shape: one pool per float column (shared by the x/y/z axes)."""

    def __init__(self, rng: random.Random) -> None:
        def uniform(lo: float, hi: float, places: int) -> list[str]:
            return [f"{rng.uniform(lo, hi):.{places}f}" for _ in range(FLOAT_POOL)]

        flow = [f"{rng.uniform(0, 100):.4f}" for _ in range(FLOAT_POOL * 9 // 10)]
        flow += [f"{rng.uniform(1, 10):.3f}e{rng.choice('-+')}{rng.randint(1, 15):02d}"
                 for _ in range(FLOAT_POOL // 10)]
        rng.shuffle(flow)
        accel, gyro = uniform(-16, 16, 6), uniform(-2000, 2000, 3)
        self.floats = [
            grid(-40, 85, 2),                                            # temp_c
            grid(0, 100, 1),                                             # humidity_pct
            grid(950, 1050, 2),                                          # pressure_hpa
            grid(3, 4, 3) + [f"4.{i:03d}" for i in range(1, 201)],       # battery_v, 3.000 .. 4.200
            uniform(-2.5, 2.5, 5),                                       # current_a
            uniform(0, 5000, 3),                                         # power_w
            uniform(-90, 90, 6),                                         # lat
            uniform(-180, 180, 6),                                       # lon
            grid(-400, 9000, 1),                                         # alt_m
            accel, accel, accel,
            gyro, gyro, gyro,
            grid(-120, -30, 1),                                          # rssi_dbm
            flow,                                                        # flow_rate
            [repr(rng.uniform(0, 1e6)) for _ in range(FLOAT_POOL)],      # energy_wh, up to 17 digits
            [repr(rng.gauss(0, 1)) for _ in range(FLOAT_POOL)],          # noise, exponent now and then
        ]
        self.sparse = [
            sparse(rng, 50, lambda: str(rng.randint(100, 599))),         # error_code, ~5% filled
            sparse(rng, 70, lambda: str(rng.randint(1, 9))),             # retry_count, ~7%
            sparse(rng, 100, lambda: str(rng.randint(10_000, 99_999))),  # firmware_build, ~10%
        ]
        self.devices = [f"dev-{i:06x}" for i in rng.sample(range(1 << 24), 5000)]
        self.millis = [f".{ms:03d}Z" for ms in range(1000)]


def telemetry_chunks(rng: random.Random) -> Iterator[list[str]]:
    """Chunks of telemetry rows, forever; timestamps never decrease."""
    pools = TelemetryPools(rng)
    choices = rng.choices
    window = TELEMETRY_CHUNK_SECONDS
    chunk = 0
    while True:
        n = TELEMETRY_ROWS_PER_CHUNK
        start = TELEMETRY_START + dt.timedelta(seconds=chunk * window)
        chunk += 1
        seconds = [(start + dt.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S") for s in range(window)]
        millis = pools.millis
        ts = [seconds[v // 1000] + millis[v % 1000] for v in sorted(choices(range(window * 1000), k=n))]
        columns = [ts, choices(pools.devices, k=n)]
        columns += [choices(pool, k=n) for pool in pools.floats]
        columns += [choices(pool, k=n) for pool in pools.sparse]
        yield list(map(",".join, zip(*columns)))


# --------------------------------------------------------------------------------------------
# narrow
# --------------------------------------------------------------------------------------------

NARROW_HEADER = "country,status,code,qty,active"
NARROW_ROWS_PER_CHUNK = 500_000  # ~13.5 MB per chunk
# No "NA" (Namibia): pandas reads it as a missing value.
COUNTRIES = ["US", "DE", "GB", "FR", "JP", "CN", "IN", "BR", "CA", "AU", "IT", "ES", "NL", "SE", "PL", "MX", "KR",
             "CH", "BE", "AT", "DK", "NO", "FI", "IE", "PT", "CZ", "GR", "HU", "RO", "TR", "ZA", "AR", "CL", "CO",
             "NZ", "SG", "IL", "AE", "TH", "VN"]
STATUSES = ["pending", "shipped", "delivered", "cancelled", "returned"]


class NarrowPools:
    """Pre-rendered field values of the narrow shape."""

    def __init__(self, rng: random.Random) -> None:
        # Skewed: the first countries and statuses are the common ones.
        self.countries = list(chain.from_iterable(repeat(c, 40 - i) for i, c in enumerate(COUNTRIES)))
        self.statuses = list(chain.from_iterable(repeat(s, w) for s, w in zip(STATUSES, [10, 25, 55, 6, 4])))
        codes: set[str] = set()
        alnum = string.ascii_uppercase + string.digits
        while len(codes) < 50_000:
            code = rng.choice(string.ascii_uppercase) + "".join(rng.choices(alnum, k=rng.randint(2, 7)))
            if code not in RESERVED_WORDS:
                codes.add(code)
        self.codes = sorted(codes)
        self.quantities = [str(q) for q in range(100)]
        self.booleans = ["true", "false"]


def narrow_chunks(rng: random.Random) -> Iterator[list[str]]:
    """Chunks of narrow rows, forever."""
    pools = NarrowPools(rng)
    choices = rng.choices
    while True:
        n = NARROW_ROWS_PER_CHUNK
        columns = [choices(pools.countries, k=n), choices(pools.statuses, k=n), choices(pools.codes, k=n),
                   choices(pools.quantities, k=n), choices(pools.booleans, weights=[3, 1], k=n)]
        yield list(map(",".join, zip(*columns)))


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

# shape -> (header, chunk generator); order_lines is gen_order_lines.generate itself.
SHAPES: dict[str, tuple[str, Callable[[random.Random], Iterator[list[str]]]] | None] = {
    "order_lines": None,
    "orders_text": (ORDERS_TEXT_HEADER, orders_text_chunks),
    "telemetry": (TELEMETRY_HEADER, telemetry_chunks),
    "narrow": (NARROW_HEADER, narrow_chunks),
}


def generate(shape: str, out_path: str, size_mb: float, seed: int) -> tuple[int, int]:
    """Write a CSV of the shape to out_path; returns (data rows, bytes)."""
    spec = SHAPES[shape]
    if spec is None:
        return gen_order_lines.generate(out_path, size_mb, seed)
    header, chunks = spec
    return write_chunks(out_path, size_mb, header, chunks(random.Random(seed)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=list(SHAPES), default="order_lines", help="data shape (default order_lines)")
    parser.add_argument("--size-mb", type=float, required=True, help="target size in MB (1e6 bytes)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", required=True, help="output CSV path")
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("--size-mb must be positive")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    started = time.perf_counter()
    rows, size = generate(args.shape, args.out, args.size_mb, args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {args.out}: {args.shape}, {rows} data rows, {size} bytes in {elapsed:.1f} s "
          f"({size / 1e6 / elapsed:.0f} MB/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
