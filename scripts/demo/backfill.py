"""The demo's backfill: ~1,000 small CSVs seeded under raw/backfill/ in the landing bucket (no event for them, as for
files that arrived before Tributary), then the deployed backfill state machine run twice by the local runner, whose
Distributed Map emulation lists the prefix, batches it and runs the batches' child executions several at once. The
first run converts and loads every object once; the second finds each converted and each file in the ledger."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from .settings import LANDING_BUCKET

PREFIX = "raw/backfill/"
# BACKFILL_OBJECTS=... makes the seeded prefix smaller or larger.
OBJECTS = int(os.environ.get("BACKFILL_OBJECTS", "1000"))
ROWS_PER_OBJECT = 3


def seed(s3, count: int) -> None:
    """`count` objects of ROWS_PER_OBJECT rows each, ids unique across them."""
    def put(i: int) -> None:
        rows = "".join(f"{i * ROWS_PER_OBJECT + r},{(i * 7 + r) % 100}.{r}5,store-{i % 9}\n"
                       for r in range(ROWS_PER_OBJECT))
        s3.put_object(Bucket=LANDING_BUCKET, Key=f"{PREFIX}part-{i:05d}.csv",
                      Body=("reading_id,amount,store\n" + rows).encode())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, range(count)))


def backfill_flow(demo) -> None:
    s3, sfn = demo.client("s3"), demo.client("stepfunctions")
    machine_arn = demo.stack.tf["backfill_state_machine_arn"]
    definition = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
    flow: dict = {"objects": OBJECTS, "prefix": f"s3://{LANDING_BUCKET}/{PREFIX}", "runs": []}
    demo.report["flows"]["backfill"] = flow
    seed(s3, OBJECTS)
    rows = lambda: int(demo.stack.pg.query("select count(*) from analytics.backfill")[0][0])  # noqa: E731

    for run in (1, 2):
        with demo.timed(f"backfill run {run} ({OBJECTS} objects)"):
            execution = demo.run_state_machine(definition, machine_arn, {"prefix": PREFIX})
        summary = execution.get("output") or {}
        maps = execution.get("maps") or {}
        load = summary.get("load") or {}
        flow["runs"].append({
            "status": execution["status"], "error": execution.get("error"), "cause": (execution.get("cause") or "")[:500],
            "children": maps.get("children"), "max_concurrent": maps.get("maxConcurrent"),
            "ms": execution.get("ms"), "summary": {k: summary.get(k) for k in (
                "objects", "converted", "skipped", "ignored", "failed", "batches_succeeded", "batches_failed",
                "datasets", "summary")},
            "load": load, "warehouse_rows": rows() if execution["status"] == "SUCCEEDED" else None,
        })
        ok = execution["status"] == "SUCCEEDED" and summary.get("objects") == OBJECTS and summary.get("failed") == 0
        if run == 1:
            demo.expect("backfill", f"run 1: every one of {OBJECTS} objects converted and loaded once, "
                        "batches several at once",
                        ok and summary.get("converted") == OBJECTS and load.get("files_loaded") == OBJECTS
                        and maps.get("maxConcurrent", 0) > 1 and rows() == OBJECTS * ROWS_PER_OBJECT,
                        f"{execution['status']}: {flow['runs'][-1]}")
        else:
            demo.expect("backfill", "run 2: every object skipped, no file loaded again, the warehouse unchanged",
                        ok and summary.get("skipped") == OBJECTS and load.get("files_loaded") == 0
                        and rows() == OBJECTS * ROWS_PER_OBJECT,
                        f"{execution['status']}: {flow['runs'][-1]}")
    last = flow["runs"][0]["summary"].get("summary")
    demo.expect("backfill", "the summary is stored beside the map's results",
                bool(last) and s3.head_object(Bucket=last.split("/")[2], Key=last.split("/", 3)[3]) is not None,
                str(last))


def print_backfill(flow: dict, p) -> None:
    p(f"\nBackfill (Step Functions Distributed Map, emulated by the local runner) of {flow['prefix']}")
    p(f"  in   {flow['objects']} objects, never announced by an event")
    for i, run in enumerate(flow["runs"], 1):
        s = run["summary"]
        p(f"  run  {i}: {run['status']} in {run['ms'] / 1000:.1f} s, {run['children']} child executions "
          f"(at most {run['max_concurrent']} at once)")
        if run.get("error"):
            p(f"       error {run['error']}: {run['cause']}")
        p(f"       objects {s.get('objects')}: converted {s.get('converted')}, skipped {s.get('skipped')}, "
          f"failed {s.get('failed')}; loads: {run['load'].get('batches')} batches, "
          f"{run['load'].get('files_loaded')} files loaded, {run['load'].get('files_skipped')} already in the ledger; "
          f"analytics.backfill: {run['warehouse_rows']} rows")
    if flow["runs"] and flow["runs"][0]["summary"].get("summary"):
        p(f"  out  {flow['runs'][0]['summary']['summary']}")
