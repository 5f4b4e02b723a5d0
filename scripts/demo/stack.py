"""The local stack the flows run against: moto_server, a throwaway PostgreSQL (tests/harness/postgres_cluster.sh),
infra/terraform applied to the emulator (the workspace from tests/harness/tf_workspace.py), and the functions under
`cargo lambda watch`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

from .settings import BUCKET, FUNCTIONS, LANDING_BUCKET, NAME_PREFIX, REGION, ROOT
from .supervisor import DemoError, Processes, free_port, log, run, tail, timed, wait_port

sys.path.insert(0, str(ROOT / "tests/harness"))
import tf_workspace  # noqa: E402  (the Terraform test's workspace preparation)

PG_USER = "postgres"
CLUSTER_SCRIPT = ROOT / "tests/harness/postgres_cluster.sh"

# --- PostgreSQL ---------------------------------------------------------------------------------------------------


def pg_bin_dir() -> Path:
    """Where the PostgreSQL programs are, as postgres_cluster.sh finds them: PG_BIN, else where `initdb` on PATH
    really lives, else Debian's."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("initdb")
    return Path(os.path.realpath(found)).parent if found else Path("/usr/lib/postgresql/15/bin")


class Postgres:
    """A throwaway cluster: trust authentication, superuser postgres. Its whole life is in
    tests/harness/postgres_cluster.sh (initdb, the server -- as the postgres system user when this runs as root --,
    its shutdown and the deletion of its directory), which also stops it when this process is gone, however it
    ended."""

    def __init__(self, procs: Processes, seconds: float = 60):
        self.psql_bin = shutil.which("psql", path=str(pg_bin_dir())) or shutil.which("psql") or "psql"
        self.port = free_port()
        # The script's: it deletes it. Outside the demo's private base directory, which the postgres user cannot enter.
        self.base = Path(tempfile.mkdtemp(prefix="tributary-demo-pg-"))
        self.log = self.base.with_name(self.base.name + ".log")  # outside base, so that it outlives a failed start
        pid_file = self.base / "data/postmaster.pid"
        self.pid_file = pid_file
        # Run last: the log, which the script leaves while this process lives; the directory, only if a server that
        # ignored its shutdown kept the script from deleting it.
        procs.register("PostgreSQL's cluster directory", [f'rm -f "{self.log}"', f'rm -rf "{self.base}"'])
        env = dict(os.environ, BASE=str(self.base), LOG=str(self.log), PORT=str(self.port), OWNER=str(os.getpid()))
        launcher = procs.start("PostgreSQL", ["sh", str(CLUSTER_SCRIPT)], None, env=env, cwd=Path("/"))
        # Run first: a fast shutdown of the postmaster (by the PID in postmaster.pid: as root, the script's child is
        # runuser), an immediate one if it is still up after 15 s; the script then deletes the cluster.
        procs.register("PostgreSQL server", [
            f'[ -f "{pid_file}" ] && kill -INT "$(head -1 "{pid_file}")" 2>/dev/null',
            f'n=0; while [ -e "{self.base}" ] && [ $n -lt 75 ]; do sleep 0.2; n=$((n + 1)); done',
            f'[ -f "{pid_file}" ] && kill -QUIT "$(head -1 "{pid_file}")" 2>/dev/null',
            f'n=0; while [ -e "{self.base}" ] && [ $n -lt 25 ]; do sleep 0.2; n=$((n + 1)); done'])
        deadline = time.monotonic() + seconds
        while not (self.status() == "ready" and self.accepts_connections()):
            if launcher.poll() is not None:
                raise DemoError(f"PostgreSQL ended before accepting connections ({CLUSTER_SCRIPT.name} exited with "
                                f"{launcher.returncode}){tail(self.log)}")
            if time.monotonic() > deadline:
                raise DemoError(f"PostgreSQL did not accept connections on 127.0.0.1:{self.port} within "
                                f"{seconds:.0f} s{tail(self.log)}")
            time.sleep(0.2)
        self.url = f"postgres://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def status(self) -> str | None:
        """The server's status, line 8 of postmaster.pid: `starting`, `ready`, `stopping`; None before it has one."""
        try:
            lines = self.pid_file.read_text().splitlines()
        except OSError:
            return None
        return lines[7].strip() if len(lines) >= 8 else None

    def accepts_connections(self) -> bool:
        return subprocess.run([self.psql_bin, *self.conn(), "-c", "select 1"], capture_output=True).returncode == 0

    def conn(self) -> list[str]:
        return ["-X", "-q", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", "postgres"]

    def query(self, sql: str) -> list[list[str]]:
        out = subprocess.run([self.psql_bin, *self.conn(), "-F", "\t", "-c", sql], capture_output=True, text=True)
        if out.returncode != 0:
            raise DemoError(f"psql: {out.stderr.strip()}")
        return [line.split("\t") for line in out.stdout.splitlines() if line]


# --- Terraform ----------------------------------------------------------------------------------------------------


def terraform_apply(base: Path, endpoint: str) -> dict:
    """infra/terraform applied to the emulator from the workspace tf_workspace.py prepares under base/terraform;
    returns `terraform output`."""
    terraform = os.environ.get("TERRAFORM") or shutil.which("terraform")
    if not terraform:
        raise DemoError("terraform is not on PATH (Terraform >= 1.9 is needed; or set TERRAFORM)")
    module = tf_workspace.prepare(base / "terraform", endpoint, NAME_PREFIX, BUCKET, LANDING_BUCKET)
    env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", AWS_EC2_METADATA_DISABLED="true")
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
    init = [terraform, "init", "-no-color", "-input=false"]
    if plugin_dir.is_dir():
        init.append(f"-plugin-dir={plugin_dir}")
    run(init, "terraform init", cwd=module, env=env)
    run([terraform, "apply", "-no-color", "-input=false", "-auto-approve", "-parallelism=30"], "terraform apply", cwd=module, env=env)
    out = run([terraform, "output", "-no-color", "-json"], "terraform output", cwd=module, env=env)
    outputs = {name: value["value"] for name, value in json.loads(out.stdout).items()}
    for output, bucket in (("bucket_name", BUCKET), ("landing_bucket_name", LANDING_BUCKET)):
        if outputs.get(output) != bucket:
            raise DemoError(f"terraform output {output} is {outputs.get(output)!r}, the demo asked for {bucket!r}")
    return outputs


# --- the stack ----------------------------------------------------------------------------------------------------


class Stack:
    """moto_server, PostgreSQL, the applied Terraform and the functions; started by `start` then `start_functions`,
    stopped with everything else `procs` started."""

    TERRAFORM_OUTPUTS = ("landing_bucket_name", "bucket_name", "replica_bucket_names", "stream_name",
                         "state_machine_arn", "latest_table_name", "orders_table_name", "notifications_topic_arn",
                         "function_names", "orders_state_machine_arn", "webhook_url")

    def __init__(self, base: Path, procs: Processes, timings: dict[str, float]):
        self.base = base
        self.procs = procs
        self.timings = timings

    def client(self, service: str, endpoint: str | None = None):
        return boto3.client(service, endpoint_url=endpoint or self.endpoint, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=BotoConfig(retries={"max_attempts": 2}))

    def _start_moto(self, log_name: str) -> None:
        port = free_port()
        self.moto_log = self.base / log_name
        self.moto = self.procs.start("moto_server", [sys.executable, str(ROOT / "tests/harness/moto_server.py"),
                                                     "-H", "127.0.0.1", "-p", str(port)], self.moto_log)
        self.endpoint = f"http://127.0.0.1:{port}"
        self.moto_port = port

    def start(self) -> None:
        """moto_server and PostgreSQL, then `terraform apply` while the functions build."""
        with timed(self.timings, "start moto_server and PostgreSQL"):
            self._start_moto("moto.log")
            self.pg = Postgres(self.procs)
            wait_port(self.moto_port, 60, "moto_server", self.moto, self.moto_log)
            log(f"moto_server on {self.endpoint}, PostgreSQL on 127.0.0.1:{self.pg.port}")
        # terraform apply mostly waits on the AWS provider's consistency polls: it runs while cargo builds.
        log("terraform apply of infra/terraform against the emulator, while the functions build")
        applied: dict = {}

        def apply() -> None:
            started = time.monotonic()
            try:
                applied["outputs"] = terraform_apply(self.base, self.endpoint)
            except DemoError as first:
                # In one run of `make test` the AWS provider waited five minutes on a CreateFunction, and its retry
                # then met the function the first request had made (409, "Function already exist"): a lost answer
                # between the emulator and the provider, not the configuration's fault. The apply is tried once
                # more, on a fresh moto_server and workspace; a configuration that cannot apply fails the second
                # time too, with both errors. The report's timings show the failed attempt.
                self.timings["terraform apply, failed attempt"] = round(time.monotonic() - started, 2)
                log(f"terraform apply failed; once more on a fresh moto_server:\n{str(first)[-1500:]}"
                    f"{tail(self.moto_log, 10)}")
                started = time.monotonic()
                try:
                    self.moto.terminate()
                    self.moto.wait(30)
                    shutil.rmtree(self.base / "terraform", ignore_errors=True)
                    self._start_moto("moto-2.log")
                    wait_port(self.moto_port, 60, "moto_server", self.moto, self.moto_log)
                    applied["outputs"] = terraform_apply(self.base, self.endpoint)
                except (DemoError, OSError, subprocess.SubprocessError) as second:
                    applied["error"] = DemoError(f"{second}\n\nThe first attempt:\n{first}")
            self.timings["terraform apply"] = round(time.monotonic() - started, 2)

        terraform = threading.Thread(target=apply, daemon=True)
        terraform.start()
        with timed(self.timings, "build the functions"):
            for function in FUNCTIONS:
                # What `cargo lambda watch` runs for each function, so that it finds them built.
                build = subprocess.run(["cargo", "build", "--quiet", "--bin", function], cwd=ROOT)
                if build.returncode != 0:
                    raise DemoError(f"cargo build --bin {function} failed")
        terraform.join()
        if "error" in applied:
            raise applied["error"]
        self.tf = applied["outputs"]

    def terraform_summary(self) -> dict:
        """The Terraform outputs the report shows."""
        return {k: self.tf[k] for k in self.TERRAFORM_OUTPUTS}

    def start_functions(self) -> None:
        """`cargo lambda watch` serving every function, with the environment Terraform gave them."""
        with timed(self.timings, "start cargo lambda watch"):
            lam = self.client("lambda")
            environment: dict[str, str] = {}
            for function, name in self.tf["function_names"].items():
                configuration = lam.get_function_configuration(FunctionName=name)
                variables = configuration.get("Environment", {}).get("Variables", {})
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

    def stay(self) -> None:
        """Keeps everything running until Ctrl-C, after saying how to reach it."""
        invoke_args = f"--invoke-address 127.0.0.1 --invoke-port {self.invoke_port}"
        print(f"""
The emulator, PostgreSQL and the functions keep running until Ctrl-C. In another shell:
  cargo lambda invoke order-validator {invoke_args} --data-file events/s3-object-created-order.json
  cargo lambda invoke csv-to-parquet {invoke_args} --data-file events/s3-object-created-csv.json
  cargo lambda invoke kinesis-normalizer {invoke_args} --data-file events/kinesis-batch.json
  curl -i -X POST {self.lambda_endpoint}/lambda-url/order-webhook/orders ... (signed as the README shows)
(the sample events name {LANDING_BUCKET}, the landing bucket the demo created; the outputs are in {BUCKET}).
To reach the emulator with boto3 or the AWS CLI:
  export AWS_ENDPOINT_URL={self.endpoint} AWS_REGION={REGION} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
The warehouse: psql {self.pg.url}
Function logs: tail -f {self.watch_log}""", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
