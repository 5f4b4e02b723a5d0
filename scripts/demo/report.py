"""The report the demo prints: what went in, what ran, what came out, the timings and the expectations not met."""

from __future__ import annotations

import json
import sys

from .settings import BUCKET, LANDING_BUCKET
from .backfill import print_backfill
from .latency import print_latency
from .webhook import print_webhook


def print_report(report: dict) -> None:
    p = print
    flows = report["flows"]
    p("\n================ Tributary demo ================")
    if "csv" in flows:
        csv_flow = flows["csv"]
        p("\nCSV -> Parquet -> warehouse (EventBridge -> Step Functions)")
        for f in csv_flow["files"]:
            p(f"  in   s3://{LANDING_BUCKET}/{f['key']}: {f['rows']} rows ({f['bad_rows']} broken), "
              f"{f['bytes']:,} bytes")
        for e in csv_flow["executions"]:
            p(f"  run  {e['file']}")
            p(f"       {e['status']} in {e['ms'] / 1000:.1f} s: {' -> '.join(e['path'])}")
            if e["status"] == "SUCCEEDED":
                t, load = e["output"]["transform"], e["output"]["load"]["result"]
                p(f"       transform {t['status']}: {t.get('rows_out', '-')} rows out, "
                  f"{t.get('rows_rejected', '-')} quarantined; load {load['status']}"
                  + f": {load.get('rows_loaded', 0)} rows, {load.get('files_loaded', 0)} file(s) loaded, "
                  f"{load.get('files_skipped', 0)} already in the ledger")
            else:
                try:
                    message = json.loads(e.get("cause") or "{}").get("errorMessage", "")
                except ValueError:
                    message = e.get("cause", "")
                p(f"       error {e.get('error')}: {message}")
        for o in csv_flow.get("objects", []):
            p(f"  out  s3://{BUCKET}/{o['key']} ({o['bytes']:,} bytes)")
        if "warehouse" in csv_flow:
            w = csv_flow["warehouse"]
            p(f"  out  PostgreSQL {w['table']}: {w['rows']} rows; load ledger: {w['ledger_entries']} entries")
        if "dataset" in csv_flow:
            d = csv_flow["dataset"]
            p(f"  out  Glue table {d['glue_table']}: schema version {d['schema_version']} "
              f"(registered: {', '.join(map(str, d['registered_versions']))}); columns {', '.join(d['columns'])}")
            p(f"  out  PostgreSQL columns now: {', '.join(d['warehouse_columns'])}")
            if "query" in d:
                p(f"  query {d['query']['sql']}")
                for channel, rows in d["query"]["rows"]:
                    p(f"       {channel}: {rows} rows")
        if "trace" in csv_flow:
            t = csv_flow["trace"]
            p(f"  trace warehouse row {t['row']}: _correlation_id {t['correlation_id']}")
            p(f"        execution of {t['execution_file']!r}; source object {t['source_key']}")
            for file_url, load_id in t["ledger"]:
                p(f"        load ledger: {file_url} (load {load_id})")
        for n in report.get("notifications", []):
            p(f"  out  SNS: {n['subject']}")
    if "backfill" in flows:
        print_backfill(flows["backfill"], p)
    if "kinesis" in flows:
        k = flows["kinesis"]
        p("\nKinesis -> normalized events (event source mapping played by the demo)")
        p(f"  in   {k['records_put']} records: {k['events']} events, {k['duplicates']} redelivered, "
          f"{k['poison']} poison")
        for b in k["batches"]:
            p(f"  run  batch of {b['records']} (attempt {b['attempt']}): {b['failed_items']} batchItemFailures"
              + (f", error {b['error']}" if b.get("error") else ""))
        p(f"  out  {k.get('events_written')} events under events/, {k.get('dead_lettered')} dead-lettered, "
          f"{k.get('latest_state_items')} items in the latest-state table")
        folders: dict[str, list[int]] = {}
        for o in k.get("objects", []):
            folders.setdefault(o["key"].rsplit("/", 1)[0] + "/", []).append(o["bytes"])
        for folder, sizes in folders.items():
            p(f"  out  s3://{BUCKET}/{folder}: {len(sizes)} object(s), {sum(sizes):,} bytes")
    if "orders" in flows:
        o = flows["orders"]
        p("\nPurchase orders (S3 notification -> order-validator)")
        for order in o["orders"]:
            errors = order["result"].get("errors") or []
            reasons = f": {'; '.join(e['message'] for e in errors[:2])}" if errors else ""
            if len(errors) > 2:
                reasons += f"; and {len(errors) - 2} more"
            p(f"  run  {order['key']}: {order['status']}{reasons}")
        p(f"  out  {o.get('table_items')} orders in the orders table; "
          f"{sum(1 for x in o.get('objects', []) if 'validated/' in x['key'])} validated and "
          f"{sum(1 for x in o.get('objects', []) if 'rejected/' in x['key'])} rejected objects")
    if "webhook" in flows:
        print_webhook(flows["webhook"], p)
    if "samples" in flows:
        p("\nSample events (cargo lambda invoke --data-file events/...)")
        for i in flows["samples"]["invocations"]:
            p(f"  run  {i['function']} {i['sample']}: {i['answer']}")
    if report.get("latency"):
        print_latency(report["latency"], p)
    p("\nTimings")
    for name, seconds in report.get("timings_s", {}).items():
        p(f"  {seconds:7.2f} s  {name}")
    if report.get("outputs"):
        p(f"Outputs copied to {report['outputs']}/")
    failed = [c for c in report["checks"] if not c["ok"]]
    p(f"\n{len(report['checks']) - len(failed)}/{len(report['checks'])} expectations met"
      + ("" if not failed else ":"))
    for c in failed:
        p(f"  FAILED {c['check']} {c['detail']}")
    sys.stdout.flush()
