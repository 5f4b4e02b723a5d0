"""The Python equivalent of `tributary normalize` on a Kinesis event: json.loads + a dict rewrite per record.

Usage: normalize_python.py EVENT.json OUT.jsonl [DEAD_LETTERS.jsonl]
Applies the rules of functions/kinesis-normalizer/src/normalize.rs and the CLI's output format, so that the two
outputs can be compared line by line and the CPU ratio compares equal work:
  - base64 decode (strict), the record size limit (1 MiB), strict UTF-8, JSON without NaN/Infinity, an object;
  - snake_case keys (a port of `snake_case`) and trimmed strings (Unicode White_Space, as Rust's `trim`), all
    the way down; a key repeated in one object is poison; keys that share a snake_case name keep every value
    (the key already spelled so, else the first, takes the name; the others keep their own spelling);
  - event_id (event_id, id: a non-empty string or a number's text; else `<shard>-<sequence>`), event_type
    (event_type, type; sanitized for S3 keys), event_time (event_time, timestamp, ts, created_at: RFC 3339 as
    chrono reads it, epoch seconds or milliseconds, rounded to the millisecond; else the arrival time);
  - payload keys in order, then event_id, event_type, event_time, event_time_source, _kinesis, ingested_at, and
    `_original` for payload values under those names that the metadata replaced with something else;
  - the first record of each event_id is kept; poison records go to the dead letters as the CLI writes them.
The work is done where Python is quickest: the key rewrite runs inside json.loads (object_pairs_hook, bottom
up, with a memo of key spellings), so no second walk over the tree. Known differences, none of which the bench's
batches contain: numbers are read as Python numbers, so a number not written canonically (`1.50`, `1E2`, `-0`,
`1e400`) comes back canonical, where tributary keeps the payload's text; times past the year 9999 or in a leap
second or before the year 1 are not read; a "not JSON" reason carries Python's parser message, not serde_json's.
Prints the CPU seconds of the normalization itself (without interpreter start-up and reading the event) and the
summary on stderr as JSON.
"""

import base64
import json
import re
import sys
import time
from datetime import datetime, timedelta

MAX_RECORD_BYTES = 1024 * 1024
# Unicode White_Space: what Rust's str::trim removes (str.strip() would also remove U+001C..U+001F).
WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
     "\u2028\u2029\u202f\u205f\u3000"
METADATA = ("event_id", "event_type", "event_time", "event_time_source", "_kinesis", "ingested_at", "_original")
METADATA_SET = frozenset(METADATA)
TIME_FIELDS = ("event_time", "timestamp", "ts", "created_at")
MILLIS_THRESHOLD = 1e11
EPOCH = datetime(1970, 1, 1)
# serde_json's compact writing; one encoder for the run (json.dumps with options builds one per call).
ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def snake_case(key: str) -> str:
    """`customerId` -> `customer_id`, `HTTPStatus` -> `http_status`, `Order-Total` -> `order_total`: normalize.rs's
    `snake_case`, character for character."""
    chars = key.strip(WS)
    out = ""
    last = len(chars) - 1
    for i, c in enumerate(chars):
        if c == "-" or c == " " or c == ".":
            if out and not out.endswith("_"):
                out += "_"
            continue
        if c.isupper():
            prev = chars[i - 1] if i > 0 else ""
            nxt = chars[i + 1] if i < last else ""
            boundary = (prev != "" and (prev.islower() or "0" <= prev <= "9")) or (
                prev != "" and prev.isupper() and nxt != "" and nxt.islower())
            if boundary and not out.endswith("_"):
                out += "_"
            out += c.lower()
        else:
            out += c
    return out


class _Memo(dict):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        value = self[key] = self.fn(key)
        return value


SNAKE = _Memo(snake_case)


class _Refused(Exception):
    """A repeated key or an unresolvable key collision somewhere in the payload; the reason is worked out after."""


_collisions = [0]  # collisions found in the record being normalized


def _clean_list(items: list) -> list:
    # Objects inside were cleaned by the hook already (json.loads builds bottom up).
    return [v.strip(WS) if type(v) is str else _clean_list(v) if type(v) is list else v for v in items]


def _object(pairs: list) -> dict:
    """json.loads' object hook: the object with snake_case keys and trimmed strings."""
    d = {SNAKE[k]: v.strip(WS) if type(v) is str else _clean_list(v) if type(v) is list else v for k, v in pairs}
    if len(d) != len(pairs):
        return _object_sharing_names(pairs)
    return d


def _final_names(keys: list[str]) -> tuple[list[str], int]:
    """The names keys get in an object where some share a snake_case name, and how many names were shared."""
    names = [SNAKE[k] for k in keys]
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        groups.setdefault(name, []).append(j)
    final, shared = list(names), 0
    for name, group in groups.items():
        if len(group) < 2:
            continue
        shared += 1
        owner = next((j for j in group if keys[j] == name), group[0])
        for j in group:
            if j != owner:
                final[j] = keys[j]
    return final, shared


def _object_sharing_names(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Refused
    final, shared = _final_names(keys)
    if len(set(final)) != len(final):
        raise _Refused
    _collisions[0] += shared
    return {name: v.strip(WS) if type(v) is str else _clean_list(v) if type(v) is list else v
            for name, (_, v) in zip(final, pairs)}


def _rust_debug(s: str) -> str:
    """A str as Rust's `{:?}` writes it (enough for keys: quotes, backslashes, control characters)."""
    out = []
    for c in s:
        if c in "\"\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\0":
            out.append("\\0")
        elif ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0:
            out.append(f"\\u{{{ord(c):x}}}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


class _Pairs(list):
    pass


def _refusal(text: str) -> str:
    """Why the payload was refused, found as normalize.rs finds it: top down, an object's own keys before its
    values, the first repeated key in sort order."""
    tree = json.loads(text, object_pairs_hook=_Pairs)

    def check(value, path):
        if isinstance(value, _Pairs):
            keys = [k for k, _ in value]
            ordered = sorted(keys)
            repeated = next((a for a, b in zip(ordered, ordered[1:]) if a == b), None)
            if repeated is not None:
                return f"payload repeats the key {_rust_debug(repeated)} in {path}"
            final, _ = _final_names(keys)
            ordered = sorted(final)
            clash = next((a for a, b in zip(ordered, ordered[1:]) if a == b), None)
            if clash is not None:
                names = ", ".join(_rust_debug(keys[j]) for j in range(len(keys)) if final[j] == clash)
                return f"keys [{names}] in {path} cannot all keep a distinct name"
            return next((r for (_, v), name in zip(value, final) if (r := check(v, f"{path}.{name}"))), None)
        if isinstance(value, list):
            return next((r for i, v in enumerate(value) if (r := check(v, f"{path}[{i}]"))), None)
        return None

    return check(tree, "$") or "payload is JSON but not an object"


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# One decoder for the run (json.loads with options builds one per call).
DECODE = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_no_constant).decode


def _round(x: float) -> int:
    """Rust's f64::round (half away from zero) for x >= 0, exactly."""
    whole = int(x)
    return whole + 1 if x - whole >= 0.5 else whole


def fmt_ms(ms: int) -> str:
    """RFC 3339, UTC, milliseconds, as chrono's `to_rfc3339_opts(Millis, true)`."""
    t = EPOCH + timedelta(milliseconds=ms)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
            f"{t.microsecond // 1000:03d}Z")


def _epoch(n: float):
    if n != n or n in (float("inf"), float("-inf")) or n < 0:
        return None
    return _round(n if n > MILLIS_THRESHOLD else n * 1000.0)


# chrono's parse_from_rfc3339: `T`, `t` or a space between date and time, any number of fraction digits, `Z`,
# `z` or an offset with a colon (a U+2212 minus sign too), nothing after.
_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
                      r"(?:[Zz]|([+\-\u2212])([0-9]{2}):([0-5][0-9]))")
# What Rust's str::parse::<f64> accepts.
_RUST_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)", re.IGNORECASE)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _rfc3339_ms(s: str):
    m = _RFC3339.fullmatch(s)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] + (month == 2 and leap):
        return None
    if hour > 23 or minute > 59 or second > 59:  # a leap second (60) is not read: see the module doc
        return None
    offset = 0
    if m.group(8):
        offset = int(m.group(9)) * 3600 + int(m.group(10)) * 60
        if offset >= 86400:
            return None
        if m.group(8) != "+":
            offset = -offset
    frac = m.group(7) or ""
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:  # year 0
        return None
    ms = (local - EPOCH) // timedelta(milliseconds=1) + int((frac + "000")[:3]) - offset * 1000
    return ms


def parse_time(value):
    """Epoch milliseconds of an RFC 3339 time, epoch seconds or epoch milliseconds (number or numeric string)."""
    t = type(value)
    if t is int or t is float:
        try:
            ms = _epoch(float(value))
        except OverflowError:
            return None
    elif t is str:
        s = value.strip(WS)
        ms = _rfc3339_ms(s)
        if ms is None:
            if not _RUST_FLOAT.fullmatch(s):
                return None
            ms = _epoch(float(s))
    else:
        return None
    if ms is None:
        return None
    try:
        return fmt_ms(ms)
    except OverflowError:
        return None


def scalar_text(v):
    """A non-empty string, or a number's text: what an id reads as."""
    t = type(v)
    if t is str:
        return v or None
    if t is int or t is float:
        return json.dumps(v)
    return None


_TYPE_CHARS = re.compile(r"[^a-z0-9_.-]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sanitize_type(raw: str) -> str:
    cleaned = _TYPE_CHARS.sub("_", raw.strip(WS)[:100].translate(_ASCII_LOWER))
    return "unknown" if not cleaned.strip(".") else cleaned


SANITIZE = _Memo(sanitize_type)


def normalize(payload: bytes, shard: str, seq: str, partition_key: str, arrival: str, ingested_at: str):
    """(event id, the event's JSON line as bytes, collisions) or (None, the poison reason, 0)."""
    if len(payload) > MAX_RECORD_BYTES:
        return None, f"payload is {len(payload)} bytes, over the {MAX_RECORD_BYTES} byte limit", 0
    _collisions[0] = 0
    try:
        text = payload.decode("utf-8")
        body = DECODE(text)
    except _Refused:
        return None, _refusal(text), 0
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, f"payload is not JSON: {e}", 0
    if type(body) is not dict:
        return None, "payload is JSON but not an object", 0
    get = body.get
    event_id = scalar_text(get("event_id")) or scalar_text(get("id")) or f"{shard}-{seq}"
    raw_type = scalar_text(get("event_type")) or scalar_text(get("type"))
    event_type = SANITIZE[raw_type] if raw_type else "unknown"
    when = None
    for field in TIME_FIELDS:
        if field in body and (when := parse_time(body[field])) is not None:
            break
    kinesis = {"partition_key": partition_key, "sequence_number": seq, "shard_id": shard,
               "approximate_arrival": arrival}
    metadata = {"event_id": event_id, "event_type": event_type, "event_time": when or arrival,
                "event_time_source": "arrival" if when is None else "payload", "_kinesis": kinesis,
                "ingested_at": ingested_at}
    # Payload values under metadata names leave the payload, in payload order; those the metadata replaces with
    # another value are kept under _original (Json equality: same type, same value, objects in the same order).
    original = {}
    for k in [k for k in body if k in METADATA_SET]:
        v = body.pop(k)
        now = metadata.get(k)
        same = (type(v) is str and v == now) if k != "_kinesis" else (
            type(v) is dict and list(v.items()) == list(kinesis.items())
            and all(type(x) is str for x in v.values()))
        if not same:
            original[k] = v
    body.update(metadata)
    if original:
        body["_original"] = original
    try:
        line = ENCODE(body).encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate (\ud800): serde_json refuses it while parsing
        return None, f"payload is not JSON: {e}", 0
    return event_id, line, _collisions[0]


def main(path: str, out: str, dead: str | None) -> None:
    with open(path) as f:
        event = json.load(f)
    records = event.get("Records")
    if not isinstance(records, list) or (records and "kinesis" not in records[0]):
        raise SystemExit(f"{path}: not a Kinesis batch (this baseline reads Kinesis events only)")
    start = time.process_time()
    ingested_at = fmt_ms(time.time_ns() // 1_000_000)
    seen = set()
    duplicates = collisions = 0
    poison = []
    with open(out, "wb") as sink:
        for record in records:
            k = record["kinesis"]
            shard = record["eventID"].split(":")[0] if record.get("eventID") is not None else "shardId-unknown"
            seq = k["sequenceNumber"]
            arrival_ms = _round(k["approximateArrivalTimestamp"] * 1000)
            arrival = fmt_ms(arrival_ms)
            try:
                payload = base64.b64decode(k["data"], validate=True)
            except ValueError:  # binascii.Error, or a character outside ASCII
                poison.append((record, shard, seq, arrival_ms, None, "data is not valid base64"))
                continue
            event_id, line, found = normalize(payload, shard, seq, k["partitionKey"], arrival, ingested_at)
            if event_id is None:
                poison.append((record, shard, seq, arrival_ms, payload, line))
            elif event_id in seen:
                duplicates += 1
            else:
                seen.add(event_id)
                collisions += found
                sink.write(line)
                sink.write(b"\n")
    if dead:
        with open(dead, "wb") as letters:
            for record, shard, seq, arrival_ms, payload, reason in poison:
                day = fmt_ms(arrival_ms)[:10]
                key = "/".join(s.strip("/") for s in ("dead-letter/kinesis/", day, f"{shard}-{seq}.json")
                               if s.strip("/"))
                data = record["kinesis"]["data"] if payload is None else base64.b64encode(payload).decode()
                doc = {"approximate_arrival": fmt_ms(arrival_ms), "data": data,
                       "partition_key": record["kinesis"]["partitionKey"], "reason": reason,
                       "sequence_number": seq, "shard_id": shard, "source": "kinesis"}
                letters.write(ENCODE({"key": key, "record": doc}).encode("utf-8") + b"\n")
    summary = {"normalize_cpu_s": time.process_time() - start, "events": len(seen), "records_in": len(records),
               "normalized": len(seen), "duplicates": duplicates, "dead_lettered": len(poison),
               "key_collisions": collisions}
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
