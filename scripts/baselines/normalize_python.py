"""The straightforward Python equivalent of `tributary normalize`: json.loads + a dict rewrite per record.

Usage: normalize_python.py EVENT.json OUT.jsonl
Applies the same rules (base64 decode, JSON object check, snake_case keys and trimmed strings recursively,
event_id / event_type / event_time resolution, _kinesis metadata, in-batch dedup) and prints the CPU seconds of
the normalization itself (without interpreter start-up) on stderr as JSON.
"""

import base64
import json
import re
import sys
import time
from datetime import datetime, timezone

_BOUNDARY_1 = re.compile(r"(.)([A-Z][a-z]+)")
_BOUNDARY_2 = re.compile(r"([a-z0-9])([A-Z])")


def snake(key: str) -> str:
    key = key.strip().replace("-", "_").replace(" ", "_").replace(".", "_")
    return _BOUNDARY_2.sub(r"\1_\2", _BOUNDARY_1.sub(r"\1_\2", key)).lower()


def clean(value):
    if isinstance(value, dict):
        return {snake(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, str):
        return value.strip()
    return value


def parse_time(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        n = float(value)
    elif isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError:
            try:
                n = float(value)
            except ValueError:
                return None
    else:
        return None
    if n < 0:
        return None
    return datetime.fromtimestamp(n / 1000 if n > 1e11 else n, tz=timezone.utc)


def fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def normalize(record, ingested_at):
    k = record["kinesis"]
    shard = record["eventID"].split(":")[0]
    arrival = datetime.fromtimestamp(k["approximateArrivalTimestamp"], tz=timezone.utc)
    try:
        body = json.loads(base64.b64decode(k["data"]))
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    body = clean(body)
    event_id = next((str(body[f]) for f in ("event_id", "id") if body.get(f) not in (None, "")), None)
    event_id = event_id or f"{shard}-{k['sequenceNumber']}"
    event_type = next((str(body[f]) for f in ("event_type", "type") if body.get(f) not in (None, "")), "unknown")
    event_type = re.sub(r"[^a-z0-9_.-]", "_", event_type.strip().lower()[:100]) or "unknown"
    when = next((t for t in (parse_time(body[f]) for f in ("event_time", "timestamp", "ts", "created_at") if f in body) if t), None)
    body.update(
        event_id=event_id,
        event_type=event_type,
        event_time=fmt(when or arrival),
        event_time_source="payload" if when else "arrival",
        _kinesis={"partition_key": k["partitionKey"], "sequence_number": k["sequenceNumber"], "shard_id": shard,
                  "approximate_arrival": fmt(arrival)},
        ingested_at=ingested_at,
    )
    return body


def main(path: str, out: str) -> None:
    with open(path) as f:
        event = json.load(f)
    start = time.process_time()
    ingested_at = fmt(datetime.now(timezone.utc))
    seen = set()
    with open(out, "w") as sink:
        for record in event["Records"]:
            body = normalize(record, ingested_at)
            if body is None or body["event_id"] in seen:
                continue
            seen.add(body["event_id"])
            sink.write(json.dumps(body))
            sink.write("\n")
    print(json.dumps({"normalize_cpu_s": time.process_time() - start, "events": len(seen)}), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
