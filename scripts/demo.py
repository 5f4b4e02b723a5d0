#!/usr/bin/env python3
"""`make demo`: the whole Tributary pipeline on this machine, no AWS account needed.

1. Starts the AWS emulator (moto_server through tests/harness/moto_server.py) and a throwaway PostgreSQL, the
   warehouse, each on a free 127.0.0.1 port.
2. Applies infra/terraform to the emulator, so buckets, stream, tables, topic, state machine, event routing and
   function settings are the production ones. moto stores the functions but cannot run them: they run under
   `cargo lambda watch`, with the environment Terraform gave each of them (plus WAREHOUSE_URL: the loader writes
   to PostgreSQL instead of calling the Redshift Data API).
3. Feeds seeded sample data and runs every flow through the real function code:
   - CSV: order-line files uploaded under raw/orders/; the EventBridge event for each (checked against the deployed
     rule's pattern) starts the deployed state machine definition, executed by aws-local-stepfunctions
     (infra/run-state-machine.mjs): Transform -> quality gate -> Load into PostgreSQL -> Notify (SNS). One file fails
     the quality gate; one event is delivered twice.
   - Kinesis: records put to the stream, read back with GetRecords and delivered as the deployed event source
     mapping would (batch size, partial batch failures, retries, on-failure queue).
   - Orders: purchase orders uploaded to orders/incoming/, routed by the bucket's notification configuration.
4. Prints a report, copies the outputs to target/demo/, and stops everything it started -- also on Ctrl-C or a
   failure, and (through a watchdog) when it is killed. Exits 1 when any flow did not end as expected.

Options: --json FILE writes the report as JSON (the integration test reads it); --stay keeps the emulator and the
functions running after the report, until Ctrl-C, for `cargo lambda invoke` by hand.
Needs: the project venv (boto3, moto, cargo-lambda), infra/node_modules, terraform, PostgreSQL, cargo.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_order_lines  # noqa: E402  (the benchmark's seeded generator)

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
NAME_PREFIX = "tributary"
BUCKET = "tributary-demo"  # the bucket the sample events in events/ name
FUNCTIONS = ("csv-to-parquet", "kinesis-normalizer", "order-validator", "redshift-loader")
PG_USER = "postgres"


class DemoError(Exception):
    """A stage that could not run; the message says which and why."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float, what: str, proc: subprocess.Popen | None = None, log_file: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DemoError(f"{what} exited with {proc.returncode}{tail(log_file)}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise DemoError(f"{what} did not listen on 127.0.0.1:{port} within {seconds:.0f} s{tail(log_file)}")


def tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {path}:\n  " + "\n  ".join(text)


# --- processes ----------------------------------------------------------------------------------------------------


class Processes:
    """Everything the demo starts, stopped in reverse order by `stop_all` -- and by a watchdog shell if this process
    dies without running it (SIGKILL)."""

    def __init__(self, base: Path):
        self.base = base
        self.stops: list[tuple[str, list[str]]] = []  # (what, shell commands)
        self.cleanup_script = base / "cleanup.sh"
        self._write_script()
        # The watchdog reads a pipe only this process writes to: end of file means this process is gone, however it
        # ended (a PID check would be fooled by a zombie that nobody reaps).
        self.watchdog = subprocess.Popen(
            ["sh", "-c", f'read _ignored; sh "{self.cleanup_script}"'],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def _write_script(self) -> None:
        lines = ["#!/bin/sh"]
        for _, commands in reversed(self.stops):
            lines.extend(commands)
        lines.append(f'rm -rf "{self.base}"')
        self.cleanup_script.write_text("\n".join(lines) + "\n")

    def start(self, what: str, argv: list[str], log_file: Path, env: dict | None = None, cwd: Path = ROOT):
        out = open(log_file, "wb")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, start_new_session=True)
        out.close()
        # The process runs in its own group: the group is what gets stopped (cargo lambda watch's functions too).
        self.register(what, [f"kill -TERM -{proc.pid} 2>/dev/null", "sleep 1", f"kill -KILL -{proc.pid} 2>/dev/null"])
        return proc

    def register(self, what: str, commands: list[str]) -> None:
        self.stops.append((what, commands))
        self._write_script()

    def stop_all(self) -> None:
        for what, commands in reversed(self.stops):
            subprocess.run(["sh", "-c", "\n".join(commands)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log(f"stopped {what}")
        self.stops.clear()
        self.watchdog.kill()
        shutil.rmtree(self.base, ignore_errors=True)


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


def pg_bin_dir() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("initdb")
    return Path(os.path.realpath(found)).parent if found else Path("/usr/lib/postgresql/15/bin")


class Postgres:
    """A throwaway cluster: trust authentication, superuser postgres. PostgreSQL refuses to run as root, so as root
    initdb and the server run as the postgres system user."""

    def __init__(self, procs: Processes):
        bindir = pg_bin_dir()
        self.psql_bin = shutil.which("psql", path=str(bindir)) or shutil.which("psql") or "psql"
        self.port = free_port()
        # Outside the demo's private base directory, which the postgres user cannot enter.
        self.dir = Path(tempfile.mkdtemp(prefix="tributary-demo-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, user=PG_USER, group=PG_USER)
            as_user = ["runuser", "-u", PG_USER, "--"]
        procs.register("PostgreSQL's cluster directory", [f'rm -rf "{self.dir}"'])
        data, sock = self.dir / "data", self.dir / "sock"
        run(as_user + [str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8",
                       "--no-sync", "--no-instructions"], "initdb")
        run(as_user + ["mkdir", str(sock)], "mkdir sock")
        server = procs.start("PostgreSQL", as_user + [
            str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(sock),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off"], self.dir / "stdout.log")
        # runuser forks: the postmaster's PID is in postmaster.pid; a fast shutdown first, then the process group.
        procs.register("PostgreSQL server", [
            f'[ -f "{data}/postmaster.pid" ] && kill -INT "$(head -1 "{data}/postmaster.pid")" 2>/dev/null',
            "sleep 1"])
        wait_port(self.port, 60, "PostgreSQL", server, self.dir / "stdout.log")
        for _ in range(100):
            if subprocess.run([self.psql_bin, *self.conn(), "-c", "select 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        self.url = f"postgres://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def conn(self) -> list[str]:
        return ["-X", "-q", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", "postgres"]

    def query(self, sql: str) -> list[list[str]]:
        out = subprocess.run([self.psql_bin, *self.conn(), "-F", "\t", "-c", sql], capture_output=True, text=True)
        if out.returncode != 0:
            raise DemoError(f"psql: {out.stderr.strip()}")
        return [line.split("\t") for line in out.stdout.splitlines() if line]


def run(argv: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        raise DemoError(f"{what} failed ({out.returncode}):\n{(out.stdout + out.stderr)[-3000:]}")
    return out


# --- Terraform ----------------------------------------------------------------------------------------------------


def placeholder_zip(path: Path, function: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(info, f"#!/bin/sh\n# {function} runs under cargo lambda watch in the demo\nexit 1\n")


def terraform_apply(base: Path, endpoint: str) -> dict:
    """infra/terraform applied to the emulator from a copy of the module; returns `terraform output`."""
    terraform = os.environ.get("TERRAFORM") or shutil.which("terraform")
    if not terraform:
        raise DemoError("terraform is not on PATH (Terraform >= 1.9 is needed; or set TERRAFORM)")
    module = base / "terraform"
    shutil.copytree(ROOT / "infra/terraform", module, ignore=shutil.ignore_patterns(
        ".terraform*", "*.tfstate*", "*override.tf", "*.tfvars", "*.tfvars.json"))
    template = (ROOT / "infra/emulator/provider_override.tf.tpl").read_text()
    (module / "emulator_override.tf").write_text(template.replace("ENDPOINT", endpoint))
    zips = base / "zips"
    for function in FUNCTIONS:
        placeholder_zip(zips / function / "bootstrap.zip", function)
    (module / "demo.auto.tfvars.json").write_text(json.dumps({
        "name_prefix": NAME_PREFIX,
        "bucket_name": BUCKET,
        "lambda_zip_dir": str(zips),
        "force_destroy": True,
        "deletion_protection": False,
        "kms_deletion_window_days": 7,
        # The state machine's loader; in the demo it loads into PostgreSQL (WAREHOUSE_URL).
        "redshift": {"database": "analytics", "cluster_id": "warehouse", "db_user": "loader"},
    }))
    env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", AWS_EC2_METADATA_DISABLED="true")
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
    init = [terraform, "init", "-no-color", "-input=false"]
    if plugin_dir.is_dir():
        init.append(f"-plugin-dir={plugin_dir}")
    run(init, "terraform init", cwd=module, env=env)
    run([terraform, "apply", "-no-color", "-input=false", "-auto-approve", "-parallelism=30"], "terraform apply", cwd=module, env=env)
    out = run([terraform, "output", "-no-color", "-json"], "terraform output", cwd=module, env=env)
    return {name: value["value"] for name, value in json.loads(out.stdout).items()}


# --- the Lambda Invoke API ----------------------------------------------------------------------------------------


class FunctionError(Exception):
    def __init__(self, error_type: str, body: str):
        super().__init__(f"{error_type}: {body}")
        self.error_type = error_type


def invoke(endpoint: str, function: str, event: dict) -> dict:
    """POST /2015-03-31/functions/<name>/invocations. A function error is HTTP 200 + X-Amz-Function-Error from
    Lambda and HTTP 500 with the error document from `cargo lambda watch`; both raise FunctionError."""
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode(), method="POST",
        headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            body = response.read().decode()
            if response.headers.get("x-amz-function-error"):
                raise FunctionError(json.loads(body).get("errorType", "Unhandled"), body)
            return json.loads(body) if body else {}
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            error_type = json.loads(body)["errorType"]
        except (ValueError, KeyError, TypeError):
            raise DemoError(f"invoking {function}: HTTP {e.code}: {body[:500]}") from None
        raise FunctionError(error_type, body) from None


# --- sample data ----------------------------------------------------------------------------------------------------


BAD_ROWS = [  # (what is wrong, how to break a good row)
    ("a quantity that is not an integer", lambda r: r.__setitem__(6, "three")),
    ("a price that is not a decimal", lambda r: r.__setitem__(7, "12.3.4")),
    ("no order_id (not nullable)", lambda r: r.__setitem__(0, "")),
    ("a timestamp that does not parse", lambda r: r.__setitem__(11, "yesterday")),
    ("a boolean that is not one", lambda r: r.__setitem__(12, "maybe")),
    ("a missing field", lambda r: r.pop()),
]


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


# --- events the AWS services would send ------------------------------------------------------------------------------


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def eventbridge_object_created(account: str, key: str, head: dict) -> dict:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
        "account": account, "time": now_iso()[:19] + "Z", "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
                   "object": {"key": key, "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
                              "sequencer": f"{time.time_ns():X}"},
                   "request-id": uuid.uuid4().hex[:16].upper(), "requester": account, "reason": "PutObject"},
    }


def s3_notification(key: str, head: dict, configuration_id: str) -> dict:
    from urllib.parse import quote_plus
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": now_iso(),
        "eventName": "ObjectCreated:Put", "s3": {
            "s3SchemaVersion": "1.0", "configurationId": configuration_id,
            "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": quote_plus(key, safe="/"), "size": head["ContentLength"],
                       "eTag": head["ETag"].strip('"'), "sequencer": f"{time.time_ns():X}"}}}]}


def notification_target(config: dict, key: str) -> tuple[str, str] | None:
    """(function ARN, configuration id) of the bucket's Lambda notification matching an object created at key."""
    for entry in config.get("LambdaFunctionConfigurations", []):
        rules = {r["Name"].lower(): r["Value"] for r in entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
        if key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
            if any(e.startswith("s3:ObjectCreated:") for e in entry["Events"]):
                return entry["LambdaFunctionArn"], entry.get("Id", "")
    return None


def pattern_matches(pattern, event) -> bool:
    """An EventBridge event pattern against an event: exact values, prefix, suffix and wildcard (`*`) matchers."""
    if isinstance(pattern, dict):
        return all(isinstance(event, dict) and name in event and pattern_matches(p, event[name])
                   for name, p in pattern.items())
    for matcher in pattern:
        if not isinstance(matcher, dict):
            if matcher == event:
                return True
        elif "prefix" in matcher and isinstance(event, str) and event.startswith(matcher["prefix"]):
            return True
        elif "suffix" in matcher and isinstance(event, str) and event.endswith(matcher["suffix"]):
            return True
        elif "wildcard" in matcher and isinstance(event, str) and wildcard(matcher["wildcard"], event):
            return True
    return False


def wildcard(pattern: str, text: str) -> bool:
    parts = pattern.split("*")
    if not text.startswith(parts[0]) or not text.endswith(parts[-1]) or len(text) < len(parts[0]) + len(parts[-1]):
        return False
    position = len(parts[0])
    for middle in parts[1:-1]:
        found = text.find(middle, position, len(text) - len(parts[-1]))
        if found < 0:
            return False
        position = found + len(middle)
    return True


# --- the demo -------------------------------------------------------------------------------------------------------


class Demo:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self.checks: list[tuple[str, bool, str]] = []  # (flow: expectation, ok, detail)
        self.report: dict = {"flows": {}}
        self.base = Path(tempfile.mkdtemp(prefix="tributary-demo-"))
        self.procs = Processes(self.base)

    def expect(self, flow: str, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((f"{flow}: {what}", bool(ok), detail))
        if not ok:
            log(f"UNEXPECTED {flow}: {what} {detail}")

    def timed(self, name: str):
        demo = self

        class Timer:
            def __enter__(self):
                self.t = time.monotonic()

            def __exit__(self, *exc):
                demo.timings[name] = round(time.monotonic() - self.t, 2)

        return Timer()

    def client(self, service: str, endpoint: str | None = None):
        return boto3.client(service, endpoint_url=endpoint or self.endpoint, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=BotoConfig(retries={"max_attempts": 2}))

    # -- stack --

    def start_stack(self) -> None:
        with self.timed("start moto_server and PostgreSQL"):
            port = free_port()
            moto = self.procs.start("moto_server", [sys.executable, str(ROOT / "tests/harness/moto_server.py"),
                                                    "-H", "127.0.0.1", "-p", str(port)], self.base / "moto.log")
            self.endpoint = f"http://127.0.0.1:{port}"
            self.pg = Postgres(self.procs)
            wait_port(port, 60, "moto_server", moto, self.base / "moto.log")
            log(f"moto_server on {self.endpoint}, PostgreSQL on 127.0.0.1:{self.pg.port}")
        # terraform apply mostly waits on the AWS provider's consistency polls: it runs while cargo builds.
        log("terraform apply of infra/terraform against the emulator, while the functions build")
        applied: dict = {}

        def apply() -> None:
            started = time.monotonic()
            try:
                applied["outputs"] = terraform_apply(self.base, self.endpoint)
            except DemoError as e:
                applied["error"] = e
            self.timings["terraform apply"] = round(time.monotonic() - started, 2)

        terraform = threading.Thread(target=apply, daemon=True)
        terraform.start()
        with self.timed("build the functions"):
            for function in FUNCTIONS:
                # What `cargo lambda watch` runs for each function, so that it finds them built.
                build = subprocess.run(["cargo", "build", "--quiet", "--bin", function], cwd=ROOT)
                if build.returncode != 0:
                    raise DemoError(f"cargo build --bin {function} failed")
        terraform.join()
        if "error" in applied:
            raise applied["error"]
        self.tf = applied["outputs"]
        self.report["terraform"] = {k: self.tf[k] for k in ("bucket_name", "stream_name", "state_machine_arn",
                                                             "latest_table_name", "orders_table_name",
                                                             "notifications_topic_arn", "function_names")}
        with self.timed("start cargo lambda watch"):
            self.start_functions()

    def start_functions(self) -> None:
        lam = self.client("lambda")
        environment: dict[str, str] = {}
        for function, name in self.tf["function_names"].items():
            variables = lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
            for key, value in variables.items():
                if environment.get(key, value) != value:
                    raise DemoError(f"{key} differs between functions ({environment[key]!r}, {value!r}); "
                                    "cargo lambda watch gives all functions one environment")
                environment[key] = value
        environment.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true", "RUST_LOG": "info",
            "WAREHOUSE_URL": self.pg.url,
        })
        self.functions_env = environment
        env_file = self.base / "functions.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(environment.items())))
        self.invoke_port = free_port()
        self.lambda_endpoint = f"http://127.0.0.1:{self.invoke_port}"
        watch_log = self.base / "functions.log"
        self.watch_log = watch_log
        watch = self.procs.start("cargo lambda watch", [
            "cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(self.invoke_port),
            "--ignore-changes", "--env-file", str(env_file)], watch_log)
        wait_port(self.invoke_port, 300, "cargo lambda watch", watch, watch_log)
        log(f"functions served by cargo lambda watch on {self.lambda_endpoint}")

    # -- CSV flow --

    def csv_flow(self) -> None:
        s3, sfn, events = self.client("s3"), self.client("stepfunctions"), self.client("events")
        flow: dict = {"files": [], "executions": []}
        self.report["flows"]["csv"] = flow
        schema = (ROOT / "scripts/order_lines.schema.json").read_bytes()
        s3.put_object(Bucket=BUCKET, Key="schemas/orders.json", Body=schema)
        machine_arn = self.tf["state_machine_arn"]
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
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            head = s3.head_object(Bucket=BUCKET, Key=key)
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

        table_rows = int(self.pg.query("select count(*) from analytics.orders")[0][0])
        ledger = int(self.pg.query("select count(*) from analytics.tributary_load_ledger")[0][0])
        flow["warehouse"] = {"table": "analytics.orders", "rows": table_rows, "ledger_entries": ledger}
        self.expect("csv", "the warehouse holds the good file's rows once", table_rows == good_rows - good_bad,
                    f"{table_rows} rows")
        flow["objects"] = self.objects(("curated/", "quarantine/", "manifests/"))
        self.expect("csv", "no curated output for the file that failed the gate",
                    not any("export error" in o["key"] for o in flow["objects"] if o["key"].startswith("curated/")))

    def run_state_machine(self, definition: str, machine_arn: str, event: dict) -> dict:
        name = f"demo-{uuid.uuid4().hex[:12]}"
        execution_arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        arns = {self.tf["function_names"][f]: f for f in FUNCTIONS}
        account = machine_arn.split(":")[4]
        functions = {f"arn:aws:lambda:{REGION}:{account}:function:{name}": f for name, f in arns.items()}
        functions.update(arns)
        job = {"definition": definition, "input": event, "executionArn": execution_arn, "functions": functions,
               "lambdaEndpoint": self.lambda_endpoint, "waitMs": 500, "retryMs": 200}
        env = dict(os.environ, AWS_ENDPOINT_URL=self.endpoint, AWS_REGION=REGION, AWS_ACCESS_KEY_ID="test",
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
        stream, function = self.tf["stream_name"], self.tf["function_names"]["kinesis-normalizer"]
        function_arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
        mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate()
                    for m in page["EventSourceMappings"] if m["FunctionArn"] == function_arn]
        if len(mappings) != 1:
            raise DemoError(f"expected one event source mapping for {function}, found {len(mappings)}")
        mapping = mappings[0]
        batch_size = mapping.get("BatchSize", 100)
        max_retries = mapping.get("MaximumRetryAttempts", 0)
        reports_failures = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
        on_failure = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        records, expected = kinesis_payloads(seed=11)
        for start in range(0, len(records), 100):
            chunk = records[start:start + 100]
            kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": k} for k, d in chunk])
        description = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        stream_arn = description["StreamARN"]
        flow = {"records_put": len(records), "mapping": {"batch_size": batch_size, "max_retry_attempts": max_retries,
                                                          "report_batch_item_failures": reports_failures},
                "batches": [], **expected}
        self.report["flows"]["kinesis"] = flow
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
                self.deliver_kinesis_batch(shard["ShardId"], stream_arn, batch, max_retries, reports_failures,
                                           on_failure, sqs, flow)
        self.kinesis_outcome(flow)

    def deliver_kinesis_batch(self, shard_id, stream_arn, batch, max_retries, reports_failures, on_failure, sqs, flow):
        attempt = 0
        while batch:
            event = {"Records": [{
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                            "sequenceNumber": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                            "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r['SequenceNumber']}", "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::123456789012:role/{NAME_PREFIX}-kinesis-normalizer",
                "awsRegion": REGION, "eventSourceARN": stream_arn} for r in batch]}
            try:
                response = invoke(self.lambda_endpoint, "kinesis-normalizer", event)
                failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])] if reports_failures else []
                error = None
            except FunctionError as e:
                response, failures, error = {}, [batch[0]["SequenceNumber"]], e.error_type
            flow["batches"].append({"records": len(batch), "attempt": attempt + 1, "failed_items": len(failures),
                                    **({"error": error} if error else {})})
            if not failures:
                return
            # Kinesis checkpoints before the first failed record and redelivers from it.
            first = next((i for i, r in enumerate(batch) if r["SequenceNumber"] in failures), 0)
            batch = batch[first:]
            attempt += 1
            if attempt > max_retries:
                if on_failure:
                    queue_url = sqs.get_queue_url(QueueName=on_failure.rsplit(":", 1)[1])["QueueUrl"]
                    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
                        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempt},
                        "KinesisBatchInfo": {"shardId": shard_id, "batchSize": len(batch), "streamArn": stream_arn,
                                             "startSequenceNumber": batch[0]["SequenceNumber"],
                                             "endSequenceNumber": batch[-1]["SequenceNumber"]}}))
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
        latest = self.count_items(self.tf["latest_table_name"])
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
        config = s3.get_bucket_notification_configuration(Bucket=BUCKET)
        by_arn = {}
        for function, name in self.tf["function_names"].items():
            by_arn[self.client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"]] = function
        flow: dict = {"orders": []}
        self.report["flows"]["orders"] = flow
        for file_name, order, expected in purchase_orders(seed=5):
            key = f"orders/incoming/{file_name}"
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(order, indent=2).encode(),
                          ContentType="application/json")
            target = notification_target(config, key)
            if target is None:
                self.expect("orders", f"the bucket notifies a function of {key}", False)
                continue
            function = by_arn[target[0]]
            head = s3.head_object(Bucket=BUCKET, Key=key)
            try:
                result = invoke(self.lambda_endpoint, function, s3_notification(key, head, target[1]))
                error = None
            except FunctionError as e:
                result, error = {}, e.error_type
            outcome = (result.get("results") or [result])[0] if isinstance(result, dict) else {}
            status = outcome.get("status") or error
            flow["orders"].append({"key": key, "function": function, "status": status, "expected": expected,
                                   "result": outcome if not error else {"error": error}})
            self.expect("orders", f"{file_name} is {expected}", status == expected, f"got {status}")
        flow["objects"] = self.objects(("orders/validated/", "orders/rejected/"))
        flow["table_items"] = self.count_items(self.tf["orders_table_name"])
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
                messages.append({"subject": body.get("Subject"), "outcome": message.get("outcome")})
        self.report["notifications"] = messages
        outcomes = sorted(m["outcome"] for m in messages)
        self.expect("csv", "SNS delivered two success and one failure notification",
                    outcomes == ["failed", "loaded", "loaded"], f"{outcomes}")

    def subscribe_notifications(self) -> str:
        sqs, sns = self.client("sqs"), self.client("sns")
        queue_url = sqs.create_queue(QueueName="demo-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.tf["notifications_topic_arn"], Protocol="sqs", Endpoint=queue_arn,
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
        shutil.copy(self.watch_log, out / "functions.log")
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
    ]

    def samples_flow(self) -> None:
        """`cargo lambda invoke FUNCTION --data-file events/SAMPLE` for every sample event, against the functions
        `cargo lambda watch` serves: the README's commands, run as written, on the stack the flows above filled."""
        flow = self.report["flows"].setdefault("samples", {"invocations": []})
        for function, sample, expected in self.SAMPLES:
            try:
                done = subprocess.run(
                    ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port",
                     str(self.invoke_port), "--data-file", f"events/{sample}"],
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
            }[expected]
            shown = answer.get("status") or (json.dumps(answer) if answer else failure[-300:])
            flow["invocations"].append({"function": function, "sample": sample, "answer": shown})
            self.expect("samples", f"cargo lambda invoke {function} --data-file events/{sample}: {expected}", ok,
                        f"got {shown}")

    # -- the whole run --

    def run(self) -> int:
        ok = False
        try:
            self.start_stack()
            queue_url = self.subscribe_notifications()
            with self.timed("CSV flow (3 executions)"):
                self.csv_flow()
            with self.timed("Kinesis flow"):
                self.kinesis_flow()
            with self.timed("orders flow"):
                self.orders_flow()
            self.notifications(queue_url)
            with self.timed("sample events (cargo lambda invoke)"):
                self.samples_flow()
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
                self.stay()
            self.procs.stop_all()
        return 0 if ok else 1

    def stay(self) -> None:
        invoke_args = f"--invoke-address 127.0.0.1 --invoke-port {self.invoke_port}"
        print(f"""
The emulator, PostgreSQL and the functions keep running until Ctrl-C. In another shell:
  cargo lambda invoke order-validator {invoke_args} --data-file events/s3-object-created-order.json
  cargo lambda invoke csv-to-parquet {invoke_args} --data-file events/s3-object-created-csv.json
  cargo lambda invoke kinesis-normalizer {invoke_args} --data-file events/kinesis-batch.json
(the sample events name bucket {BUCKET}, which the demo created). To reach the emulator with boto3 or the AWS CLI:
  export AWS_ENDPOINT_URL={self.endpoint} AWS_REGION={REGION} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
The warehouse: psql {self.pg.url}
Function logs: tail -f {self.watch_log}""", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def print_report(report: dict) -> None:
    p = print
    flows = report["flows"]
    p("\n================ Tributary demo ================")
    if "csv" in flows:
        csv_flow = flows["csv"]
        p("\nCSV -> Parquet -> warehouse (EventBridge -> Step Functions)")
        for f in csv_flow["files"]:
            p(f"  in   s3://{BUCKET}/{f['key']}: {f['rows']} rows ({f['bad_rows']} broken), {f['bytes']:,} bytes")
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
        for n in report.get("notifications", []):
            p(f"  out  SNS: {n['subject']}")
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
    if "samples" in flows:
        p("\nSample events (cargo lambda invoke --data-file events/...)")
        for i in flows["samples"]["invocations"]:
            p(f"  run  {i['function']} {i['sample']}: {i['answer']}")
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


def interrupted(_signum, _frame):
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument("--stay", action="store_true", help="keep the stack running after the report (Ctrl-C ends)")
    args = parser.parse_args()
    # Ctrl-C and termination end the demo through its cleanup.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started in the background, where SIGINT is ignored
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # The project venv's tools (cargo-lambda, zig) for the processes started here, as the Makefile does.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return Demo(args).run()


if __name__ == "__main__":
    sys.exit(main())
