"""The demo's flows through the real function code, on the stack: CSV files through the state machine, Kinesis
records through the event source mapping, purchase orders through the landing bucket's notifications and as signed
webhooks (webhook.py), the sample events through `cargo lambda invoke`; what each must produce (the checks), and what is read back for the report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from .data import kinesis_payloads, order_lines_csv, purchase_orders
from .emulation import (EventSourceMapping, eventbridge_object_created, failed_items, kinesis_event,
                        notification_target, on_failure_record, pattern_matches, redelivered, s3_notification)
from .lambda_api import FunctionError, invoke
from .report import print_report
from .settings import BUCKET, FUNCTIONS, LANDING_BUCKET, REGION, ROOT
from .stack import Stack
from .latency import latency_table
from .webhook import webhook_flow
from .backfill import backfill_flow
from .supervisor import DemoError, Processes, log, timed


class Demo:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self.checks: list[tuple[str, bool, str]] = []  # (flow: expectation, ok, detail)
        self.report: dict = {"flows": {}}
        self.base = Path(tempfile.mkdtemp(prefix="tributary-demo-"))
        self.procs = Processes(self.base)
        self.stack = Stack(self.base, self.procs, self.timings)

    def expect(self, flow: str, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((f"{flow}: {what}", bool(ok), detail))
        if not ok:
            log(f"UNEXPECTED {flow}: {what} {detail}")

    def timed(self, name: str):
        return timed(self.timings, name)

    def client(self, service: str):
        return self.stack.client(service)

    # -- CSV flow --

    def csv_flow(self) -> None:
        s3, sfn, events = self.client("s3"), self.client("stepfunctions"), self.client("events")
        flow: dict = {"files": [], "executions": []}
        self.report["flows"]["csv"] = flow
        schema = (ROOT / "scripts/order_lines.schema.json").read_bytes()
        s3.put_object(Bucket=BUCKET, Key="schemas/orders.json", Body=schema)
        machine_arn = self.stack.tf["state_machine_arn"]
        definition = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
        rule_names = events.list_rule_names_by_target(TargetArn=machine_arn)["RuleNames"]
        if len(rule_names) != 1:
            raise DemoError(f"expected one EventBridge rule targeting the state machine, found {rule_names}")
        pattern = json.loads(events.describe_rule(Name=rule_names[0])["EventPattern"])
        account = machine_arn.split(":")[4]

        work = self.base / "data"
        work.mkdir()
        good, good_rows, good_bad = order_lines_csv(work, seed=7, size_mb=0.5, bad_every=None, bad_count=6)
        gate, gate_rows, gate_bad = order_lines_csv(work, seed=8, size_mb=0.04, bad_every=8, bad_count=60)
        files = [("raw/orders/order lines 2026-11-21.csv", good, good_rows, good_bad, "loaded"),
                 ("raw/orders/order lines 2026-11-21 (export error).csv", gate, gate_rows, gate_bad, "QualityGateFailed")]
        runs = []
        for key, body, rows, bad, expected in files:
            s3.put_object(Bucket=LANDING_BUCKET, Key=key, Body=body)
            head = s3.head_object(Bucket=LANDING_BUCKET, Key=key)
            event = eventbridge_object_created(account, key, head)
            self.expect("csv", f"the rule {rule_names[0]} routes {key!r} to the state machine",
                        pattern_matches(pattern, event))
            flow["files"].append({"key": key, "bytes": len(body), "rows": rows, "bad_rows": bad})
            runs.append((key, event, rows, bad, expected))
        runs.append((files[0][0] + " (redelivered)", runs[0][1], good_rows, good_bad, "skipped"))

        for label, event, rows, bad, expected in runs:
            with self.timed(f"state machine: {label}"):
                execution = self.run_state_machine(definition, machine_arn, event)
            execution["file"] = label
            flow["executions"].append(execution)
            path = " -> ".join(execution["path"])
            if expected == "QualityGateFailed":
                self.expect("csv", f"{label}: fails the quality gate and notifies",
                            execution["status"] == "FAILED" and execution.get("error") == "QualityGateFailed"
                            and "Notify failure" in execution["path"], f"{execution['status']}: {path}")
            else:
                output = execution.get("output") or {}
                load = (output.get("load") or {}).get("result", {})
                transform = output.get("transform") or {}
                if expected == "loaded":
                    done = transform.get("status") == "converted" and load.get("files_loaded") == 1
                    what = "converted, loaded and notified"
                else:  # the converter skips the known source ETag; the loader's ledger skips the known file
                    done = transform.get("status") == "skipped" and load.get("files_skipped") == 1 \
                        and load.get("files_loaded") == 0
                    what = "skipped by the converter and by the loader's ledger"
                self.expect("csv", f"{label}: {what}", execution["status"] == "SUCCEEDED" and done
                            and load.get("status") == "loaded" and execution["path"][-1] == "Notify success",
                            f"{execution['status']}: {path}")
                if expected == "loaded":
                    self.expect("csv", f"{label}: {rows - bad} rows out, {bad} quarantined",
                                transform.get("rows_out") == rows - bad and transform.get("rows_rejected") == bad,
                                json.dumps({k: transform.get(k) for k in ("rows_out", "rows_rejected")}))

        next_rows = self.dataset_version_2(flow, definition, machine_arn, account, schema, work)

        table_rows = int(self.stack.pg.query("select count(*) from analytics.orders")[0][0])
        ledger = int(self.stack.pg.query("select count(*) from analytics.tributary_load_ledger")[0][0])
        flow["warehouse"] = {"table": "analytics.orders", "rows": table_rows, "ledger_entries": ledger}
        self.expect("csv", "the warehouse holds each loaded file's rows once",
                    table_rows == good_rows - good_bad + next_rows, f"{table_rows} rows")
        self.dataset_query(flow, table_rows)
        self.trace_row(flow)
        flow["objects"] = self.objects(("curated/", "quarantine/", "manifests/"))
        self.expect("csv", "no curated output for the file that failed the gate",
                    not any("export error" in o["key"] for o in flow["objects"] if o["key"].startswith("curated/")))

    def dataset_version_2(self, flow: dict, definition: str, machine_arn: str, account: str, schema: bytes,
                          work: Path) -> int:
        """The next day's file brings a column, `channel`, declared in schemas/orders.json: the dataset's version 2
        in the Glue table, and a new column in the warehouse table. Returns the rows it loads."""
        s3, glue = self.client("s3"), self.client("glue")
        declared = json.loads(schema)
        declared["columns"].append({"name": "channel", "type": "string", "nullable": True})
        s3.put_object(Bucket=BUCKET, Key="schemas/orders.json", Body=json.dumps(declared).encode())
        body, rows, _ = order_lines_csv(work, seed=9, size_mb=0.1, bad_every=None, bad_count=0)
        lines = body.decode().splitlines()
        channels = ("web", "store", "app")
        lines = [lines[0] + ",channel"] + [f"{line},{channels[i % 3]}" for i, line in enumerate(lines[1:])]
        key = "raw/orders/order lines 2026-11-22 (with channel).csv"
        data = ("\n".join(lines) + "\n").encode()
        s3.put_object(Bucket=LANDING_BUCKET, Key=key, Body=data)
        flow["files"].append({"key": key, "bytes": len(data), "rows": rows, "bad_rows": 0})
        event = eventbridge_object_created(account, key, s3.head_object(Bucket=LANDING_BUCKET, Key=key))
        with self.timed(f"state machine: {key}"):
            execution = self.run_state_machine(definition, machine_arn, event)
        execution["file"] = key
        flow["executions"].append(execution)
        output = execution.get("output") or {}
        transform, load = output.get("transform") or {}, (output.get("load") or {}).get("result", {})
        self.expect("csv", f"{key}: typed by the dataset's version 2, converted and loaded",
                    execution["status"] == "SUCCEEDED" and transform.get("schema_version") == 2
                    and load.get("files_loaded") == 1, json.dumps({"status": execution["status"],
                                                                   "schema_version": transform.get("schema_version")}))
        table_name = "orders"
        table = glue.get_table(DatabaseName=self.stack.tf["glue_database"], Name=table_name)["Table"]
        versions = glue.get_table_versions(DatabaseName=self.stack.tf["glue_database"], TableName=table_name)
        registered = sorted(int(v["Table"]["Parameters"]["tributary.schema_version"])
                            for v in versions["TableVersions"])
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        warehouse_columns = [row[0] for row in self.stack.pg.query(
            "select column_name from information_schema.columns where table_schema = 'analytics' "
            "and table_name = 'orders' order by ordinal_position")]
        flow["dataset"] = {
            "glue_table": f"{self.stack.tf['glue_database']}.{table_name}",
            "schema_version": int(table["Parameters"]["tributary.schema_version"]),
            "registered_versions": registered,
            "columns": [f"{n} {t}" for n, t in columns],
            "warehouse_columns": warehouse_columns,
        }
        self.expect("csv", "the Glue table is the dataset's version 2, version 1 in its history",
                    registered == [1, 2] and ("channel", "string") in columns, json.dumps(registered))
        self.expect("csv", "the warehouse table gained the new column", "channel" in warehouse_columns,
                    ", ".join(warehouse_columns))
        return rows

    def dataset_query(self, flow: dict, table_rows: int) -> None:
        """One query across both versions of the curated dataset, read through the Glue table's columns, as Athena
        would (DuckDB here: the emulator cannot run Athena)."""
        import duckdb

        s3 = self.client("s3")
        local = self.base / "curated"
        local.mkdir(exist_ok=True)
        paths = []
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/orders/").get("Contents", []):
            path = local / f"{len(paths)}.parquet"
            s3.download_file(BUCKET, o["Key"], str(path))
            paths.append(str(path))
        columns = [c.split(" ")[0] for c in flow["dataset"]["columns"]]
        sql = (f"select coalesce(channel, '(none: version 1)') as channel, count(*) as rows "
               f"from (select {', '.join(columns)} from read_parquet({paths!r}, union_by_name = true)) "
               f"group by 1 order by 1")
        result = duckdb.sql(sql).fetchall()
        shown = sql.replace(repr(paths), "'curated/orders/**/*.parquet'").replace(", ".join(columns), "<the Glue table's columns>")
        flow["dataset"]["query"] = {"sql": shown,
                                    "rows": [list(r) for r in result]}
        self.expect("csv", "one query reads both versions of the curated dataset",
                    sum(n for _, n in result) == table_rows and any(c == "(none: version 1)" for c, _ in result),
                    json.dumps(result))

    def trace_row(self, flow: dict) -> None:
        """From one warehouse row back to where it came from: its lineage columns name the execution (the
        correlation id) and the source object; the load ledger names the curated file that execution loaded."""
        order_id, line_no, correlation, source = self.stack.pg.query(
            "select order_id, line_no, _correlation_id, _source_key from analytics.orders "
            "order by order_id, line_no limit 1")[0]
        literal = "'" + correlation.replace("'", "''") + "'"
        ledger = self.stack.pg.query(
            f"select file_url, load_id from analytics.tributary_load_ledger where correlation_id = {literal}")
        execution = next((e for e in flow["executions"] if e.get("execution_arn") == correlation), {})
        transform = (execution.get("output") or {}).get("transform") or {}
        flow["trace"] = {"row": f"order_id={order_id} line_no={line_no}", "correlation_id": correlation,
                         "source_key": source, "execution_file": execution.get("file"),
                         "ledger": [list(r) for r in ledger]}
        self.expect("csv", "a warehouse row leads back to its execution, its source object and its loaded file",
                    bool(execution) and transform.get("source_key") == source and len(ledger) == 1
                    and ledger[0][0].endswith("/" + (transform.get("output_key") or "?")),
                    json.dumps(flow["trace"]))

    def run_state_machine(self, definition: str, machine_arn: str, event: dict, execution_arn: str | None = None) -> dict:
        if execution_arn is None:
            name = f"demo-{uuid.uuid4().hex[:12]}"
            execution_arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        arns = {self.stack.tf["function_names"][f]: f for f in FUNCTIONS}
        account = machine_arn.split(":")[4]
        functions = {f"arn:aws:lambda:{REGION}:{account}:function:{name}": f for name, f in arns.items()}
        functions.update(arns)
        job = {"definition": definition, "input": event, "executionArn": execution_arn, "functions": functions,
               "lambdaEndpoint": self.stack.lambda_endpoint, "waitMs": 500, "retryMs": 200}
        env = dict(os.environ, AWS_ENDPOINT_URL=self.stack.endpoint, AWS_REGION=REGION, AWS_ACCESS_KEY_ID="test",
                   AWS_SECRET_ACCESS_KEY="test")
        out = subprocess.run(["node", str(ROOT / "infra/run-state-machine.mjs")], input=json.dumps(job),
                             capture_output=True, text=True, env=env, cwd=ROOT / "infra")
        if out.returncode != 0:
            raise DemoError(f"the state machine runner failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout)
        result["execution_arn"] = execution_arn
        return result

    # -- Kinesis flow --

    def kinesis_flow(self) -> None:
        kinesis, lam, sqs = self.client("kinesis"), self.client("lambda"), self.client("sqs")
        stream, function = self.stack.tf["stream_name"], self.stack.tf["function_names"]["kinesis-normalizer"]
        function_arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
        mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate()
                    for m in page["EventSourceMappings"] if m["FunctionArn"] == function_arn]
        if len(mappings) != 1:
            raise DemoError(f"expected one event source mapping for {function}, found {len(mappings)}")
        mapping = EventSourceMapping.from_api(mappings[0])
        records, expected = kinesis_payloads(seed=11)
        for start in range(0, len(records), 100):
            chunk = records[start:start + 100]
            kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": k} for k, d in chunk])
        description = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        stream_arn = description["StreamARN"]
        flow = {"records_put": len(records), "mapping": {"batch_size": mapping.batch_size,
                                                          "max_retry_attempts": mapping.max_retries,
                                                          "report_batch_item_failures": mapping.reports_failures},
                "batches": [], **expected}
        self.report["flows"]["kinesis"] = flow
        batch_size = mapping.batch_size
        for shard in description["Shards"]:
            iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            pending: list[dict] = []
            while True:
                if len(pending) < batch_size and iterator:
                    got = kinesis.get_records(ShardIterator=iterator, Limit=batch_size - len(pending))
                    iterator = got.get("NextShardIterator")
                    pending.extend(got["Records"])
                    if got["Records"]:
                        continue
                if not pending:
                    break
                batch, pending = pending[:batch_size], pending[batch_size:]
                self.deliver_kinesis_batch(shard["ShardId"], stream_arn, batch, mapping, sqs, flow)
        self.kinesis_outcome(flow)

    def deliver_kinesis_batch(self, shard_id: str, stream_arn: str, batch: list[dict], mapping: EventSourceMapping,
                              sqs, flow: dict) -> None:
        attempt = 0
        while batch:
            try:
                response = invoke(self.stack.lambda_endpoint, "kinesis-normalizer",
                                  kinesis_event(shard_id, stream_arn, batch))
                failures = failed_items(response, mapping.reports_failures)
                error = None
            except FunctionError as e:
                response, failures, error = {}, [batch[0]["SequenceNumber"]], e.error_type
            flow["batches"].append({"records": len(batch), "attempt": attempt + 1, "failed_items": len(failures),
                                    **({"error": error} if error else {})})
            if not failures:
                return
            batch = redelivered(batch, failures)
            attempt += 1
            if attempt > mapping.max_retries:
                if mapping.on_failure:
                    queue_url = sqs.get_queue_url(QueueName=mapping.on_failure.rsplit(":", 1)[1])["QueueUrl"]
                    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(
                        on_failure_record(shard_id, stream_arn, batch, attempt)))
                flow["sent_to_failure_queue"] = flow.get("sent_to_failure_queue", 0) + len(batch)
                return

    def kinesis_outcome(self, flow: dict) -> None:
        objects = self.objects(("events/", "dead-letter/"))
        flow["objects"] = objects
        s3 = self.client("s3")
        written, dead = 0, 0
        for o in objects:
            body = s3.get_object(Bucket=BUCKET, Key=o["key"])["Body"].read()
            lines = sum(1 for line in body.splitlines() if line.strip())
            if o["key"].startswith("events/"):
                written += lines
            else:
                dead += lines
        latest = self.count_items(self.stack.tf["latest_table_name"])
        flow.update({"events_written": written, "dead_lettered": dead, "latest_state_items": latest})
        self.expect("kinesis", "every batch delivered without failures",
                    all(b["failed_items"] == 0 for b in flow["batches"]), json.dumps(flow["batches"]))
        self.expect("kinesis", f"{flow['events']} distinct events in the latest-state table",
                    latest == flow["events"], f"{latest} items")
        self.expect("kinesis", "the poison record is dead-lettered", dead == flow["poison"], f"{dead} dead-lettered")
        self.expect("kinesis", "every good record is written to events/", written >= flow["events"],
                    f"{written} written")

    # -- orders flow --

    def orders_flow(self) -> None:
        s3 = self.client("s3")
        config = s3.get_bucket_notification_configuration(Bucket=LANDING_BUCKET)
        by_arn = {}
        for function, name in self.stack.tf["function_names"].items():
            by_arn[self.client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"]] = function
        flow: dict = {"orders": []}
        self.report["flows"]["orders"] = flow
        for file_name, order, expected in purchase_orders(seed=5):
            key = f"orders/incoming/{file_name}"
            s3.put_object(Bucket=LANDING_BUCKET, Key=key, Body=json.dumps(order, indent=2).encode(),
                          ContentType="application/json")
            target = notification_target(config, key)
            if target is None:
                self.expect("orders", f"the landing bucket notifies a function of {key}", False)
                continue
            function = by_arn[target[0]]
            head = s3.head_object(Bucket=LANDING_BUCKET, Key=key)
            try:
                result = invoke(self.stack.lambda_endpoint, function, s3_notification(key, head, target[1]))
                error = None
            except FunctionError as e:
                result, error = {}, e.error_type
            outcome = (result.get("results") or [result])[0] if isinstance(result, dict) else {}
            status = outcome.get("status") or error
            flow["orders"].append({"key": key, "function": function, "status": status, "expected": expected,
                                   "result": outcome if not error else {"error": error}})
            self.expect("orders", f"{file_name} is {expected}", status == expected, f"got {status}")
        flow["objects"] = self.objects(("orders/validated/", "orders/rejected/"))
        flow["table_items"] = self.count_items(self.stack.tf["orders_table_name"])
        accepted = sum(1 for o in flow["orders"] if o["expected"] == "valid")
        self.expect("orders", f"{accepted} orders in the orders table", flow["table_items"] == accepted,
                    f"{flow['table_items']} items")

    # -- reading back --

    def objects(self, prefixes) -> list[dict]:
        s3 = self.client("s3")
        found = []
        for prefix in prefixes:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
                found += [{"key": o["Key"], "bytes": o["Size"]} for o in page.get("Contents", [])
                          if not o["Key"].endswith("/")]
        return found

    def count_items(self, table: str) -> int:
        ddb = self.client("dynamodb")
        return sum(page["Count"] for page in ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT"))

    def notifications(self, queue_url: str) -> None:
        sqs = self.client("sqs")
        messages = []
        for _ in range(10):
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                break
            for m in got["Messages"]:
                body = json.loads(m["Body"])
                message = json.loads(body.get("Message", "{}"))
                messages.append({"subject": body.get("Subject"), "outcome": message.get("outcome"),
                                 "order_id": message.get("order_id"), "errors": len(message.get("errors") or [])})
        self.report["notifications"] = messages
        outcomes = sorted(m["outcome"] for m in messages if "CSV" in (m["subject"] or ""))
        self.expect("csv", "SNS delivered three success notifications and one failure notification",
                    outcomes == ["failed", "loaded", "loaded", "loaded"], f"{outcomes}")
        rejected = [m for m in messages if m["subject"] == "Tributary: purchase order rejected"]
        self.expect("webhook", "SNS delivered one rejection, for PO-3002, with its reasons",
                    [(m["order_id"], m["outcome"]) for m in rejected] == [("PO-3002", "invalid")]
                    and rejected[0]["errors"] >= 1, json.dumps(rejected))

    def subscribe_notifications(self) -> str:
        sqs, sns = self.client("sqs"), self.client("sns")
        queue_url = sqs.create_queue(QueueName="demo-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.stack.tf["notifications_topic_arn"], Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "false"})
        return queue_url

    def copy_outputs(self) -> Path:
        out = ROOT / "target/demo"
        shutil.rmtree(out, ignore_errors=True)
        s3 = self.client("s3")
        for o in self.objects(("curated/", "quarantine/", "events/", "dead-letter/", "orders/validated/",
                               "orders/rejected/")):
            path = out / o["key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=BUCKET, Key=o["key"])["Body"].read())
        shutil.copy(self.stack.watch_log, out / "functions.log")
        return out

    # -- the sample events, as a user invokes them --

    SAMPLES = [  # (function, file in events/, what its answer must show)
        ("csv-to-parquet", "s3-object-created-csv.json", "status converted or skipped"),
        ("csv-to-parquet", "eventbridge-object-created-csv.json", "status converted or skipped"),
        ("csv-to-parquet", "sfn-convert-csv.json", "status converted or skipped"),
        ("order-validator", "s3-object-created-order.json", "status duplicate"),
        ("order-validator", "sfn-validate-order.json", "status duplicate"),
        ("kinesis-normalizer", "kinesis-batch.json", "no batchItemFailures"),
        ("kinesis-normalizer", "sqs-batch.json", "no batchItemFailures"),
        # The redrive of the stream's on-failure queue (REDRIVE_QUEUE_URL, from Terraform).
        ("kinesis-normalizer", "kinesis-redrive.json", "a redrive report, nothing left failed"),
        # A recorded delivery: its signature is good, its timestamp (2026-11-30 10:00 UTC) past the tolerance.
        ("order-webhook", "apigw-order-webhook.json", "statusCode 401 or 202"),
    ]

    def samples_flow(self) -> None:
        """`cargo lambda invoke FUNCTION --data-file events/SAMPLE` for every sample event, against the functions
        `cargo lambda watch` serves: the README's commands, run as written, on the stack the flows above filled."""
        flow = self.report["flows"].setdefault("samples", {"invocations": []})
        for function, sample, expected in self.SAMPLES:
            try:
                done = subprocess.run(
                    ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port",
                     str(self.stack.invoke_port), "--data-file", f"events/{sample}"],
                    cwd=ROOT, capture_output=True, text=True, timeout=300)
                output, code = done.stdout, done.returncode
                failure = done.stderr or done.stdout
            except (OSError, subprocess.TimeoutExpired) as e:
                output, code, failure = "", 1, str(e)
            try:
                answer = json.loads(output) if code == 0 else {}
            except ValueError:
                answer = {}
            if not isinstance(answer, dict):
                answer = {"answer": answer}
            ok = {
                "status converted or skipped": answer.get("status") in ("converted", "skipped"),
                "status duplicate": answer.get("status") == "duplicate",
                "no batchItemFailures": answer == {"batchItemFailures": []},
                "statusCode 401 or 202": answer.get("statusCode") in (401, 202),
                "a redrive report, nothing left failed": isinstance(answer.get("redriven"), list)
                and answer.get("failed") == [] and answer.get("unreadable") == [],
            }[expected]
            shown = answer.get("status") or answer.get("statusCode") or (json.dumps(answer) if answer else failure[-300:])
            flow["invocations"].append({"function": function, "sample": sample, "answer": shown})
            self.expect("samples", f"cargo lambda invoke {function} --data-file events/{sample}: {expected}", ok,
                        f"got {shown}")

    # -- the whole run --

    def run(self) -> int:
        ok = False
        try:
            self.stack.start()
            self.report["terraform"] = self.stack.terraform_summary()
            self.stack.start_functions()
            queue_url = self.subscribe_notifications()
            with self.timed("CSV flow (3 executions)"):
                self.csv_flow()
            with self.timed("Kinesis flow"):
                self.kinesis_flow()
            with self.timed("orders flow"):
                self.orders_flow()
            with self.timed("webhook flow"):
                webhook_flow(self)
            with self.timed("backfill"):
                backfill_flow(self)
            self.notifications(queue_url)
            with self.timed("sample events (cargo lambda invoke)"):
                self.samples_flow()
            self.report["latency"] = latency_table(self.stack.watch_log.read_text(errors="replace"))
            steps = {r["step"] for r in self.report["latency"]}
            self.expect("latency", "every function's EMF records give a latency row",
                        {"csv-to-parquet", "kinesis-normalizer", "redshift-loader", "order-webhook"} <= steps,
                        ", ".join(sorted(steps)))
            out = self.copy_outputs()
            self.report["outputs"] = str(out.relative_to(ROOT))
            ok = all(passed for _, passed, _ in self.checks)
        except DemoError as e:
            log(f"demo failed: {e}")
            self.checks.append(("demo", False, str(e)))
        except KeyboardInterrupt:
            log("interrupted")
            self.checks.append(("demo", False, "interrupted"))
        finally:
            self.timings["total"] = round(time.monotonic() - self.started, 1)
            self.report["timings_s"] = self.timings
            self.report["checks"] = [{"check": c, "ok": passed, "detail": d} for c, passed, d in self.checks]
            self.report["ok"] = ok
            if self.args.json:
                Path(self.args.json).write_text(json.dumps(self.report, indent=2, default=str))
            if "flows" in self.report and self.checks:
                print_report(self.report)
            if ok and self.args.stay:
                self.stack.stay()
            self.procs.stop_all()
        return 0 if ok else 1
