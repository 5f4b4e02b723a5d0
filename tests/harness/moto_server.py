"""moto_server, with fixes for responses the AWS SDK for Rust checks more strictly than boto does.

The test harness and `make demo` start the emulator through this wrapper. Each fix is narrow and says which
moto behaviour it corrects; without them the real SDK rejects a response that real AWS sends correctly.

- S3 CompleteMultipartUpload: moto 5.2 wraps the result in <CompleteMultipartUploadResponse>; S3 (and the
  SDK's parser) use <CompleteMultipartUploadResult>.
- Redshift Data API: moto has no BatchExecuteStatement; it is added here, recording every sub-statement so tests
  can read back exactly what was sent (DescribeStatement's SubStatements and QueryString). Its timestamps are
  ISO strings where the AWS JSON protocol (and the Rust SDK) send epoch seconds; they are converted.
- Redshift Data API test hook: moto's statements never finish (status STARTED, canned results). Statements run
  against a database named `tributary_finished` finish at once with an empty result, so a test can drive a load
  to completion; any other database keeps moto's canned behaviour, for tests of bounded polling. Statements run
  against `tributary_failed` fail as a rejected COPY does: the batch is FAILED, its COPY sub-statement carries
  Redshift's error and a query id, and a `sys_load_error_detail` query for it answers one rejected row (other
  single statements there finish with no rows). Against `tributary_conflict_<k>_<anything>` the first k batches
  fail as a load that lost a race with a concurrent one does (Redshift's error 1023, serializable isolation
  violation, on the INSERT into the target), and later ones finish; single statements finish with no rows.
  Against `tributary_noledger_<anything>` the ledger query fails as on a database whose ledger does not exist
  yet (batches finish); against `tributary_denied_<anything>` it fails as one the role may not read.
- Redshift over PostgreSQL: statements against a database named `tributary_pg_<port>_<name>` really run, on the
  PostgreSQL database `<name>` at 127.0.0.1:<port> (user postgres), in the background as Redshift runs them:
  STARTED, then FINISHED with a result or FAILED with `ERROR: <PostgreSQL's message>`. A batch is one
  transaction; a failed sub-statement carries the error, the ones after it are ABORTED. Named parameters
  (`:name`) are bound; `GETDATE()` is `now()`. `COPY <table> FROM '<manifest>' … FORMAT AS PARQUET MANIFEST` reads
  the manifest and its Parquet files from this emulator's S3 and inserts their rows by position, refusing a file
  whose column count differs from the table's, as Redshift's COPY from Parquet does. The loader's whole
  transaction (ledger, guard, DDL, stages, merge) thus runs on a real database; only COPY's reading is emulated.

- Athena: ListTagsForResource of an untagged workgroup answers an empty list, not "Does Not Exist" (the provider
  reads it after creating the datasets' workgroup). Athena and Glue tags are found by ARNs with an empty account
  field, as the provider builds them when it skips the account lookup.
- Glue: UpdateTable's VersionId is ignored by moto; here an update whose VersionId is not the table's current one
  fails with ConcurrentModificationException, as in Glue, and CreateTable's check-then-add is atomic. Concurrent
  schema registrations (csv-to-parquet's dataset registry) are settled by exactly these two guards.

For `terraform apply` of infra/terraform (tests/harness/tests/terraform.rs), which reads back more than the SDK tests:

- Step Functions: moto has no ValidateStateMachineDefinition (the AWS provider validates every definition before
  creating it) and no ListStateMachineVersions (read on delete). Validation answers FAIL with a diagnostic for a
  definition that is not JSON or lacks StartAt/States, OK otherwise; versions are listed from moto's own.
- S3 Object Lock: moto refuses PutObjectLockConfiguration on any bucket with objects in it; S3 refuses only to turn
  Object Lock on there. A bucket that has it may change or drop its default retention (Terraform drops it when it
  destroys the landing bucket's lock configuration). And deleting the last version of a key whose newest version
  is a delete marker fails inside moto (a delete marker has no `dispose`), so `force_destroy` could not empty a
  bucket holding one; a delete marker now disposes of nothing.
- S3 bucket policies: moto skips condition operators it does not implement (Bool, NumericLessThan, ...), so a
  conditional Deny, such as the buckets' TLS-only policy, denies every object request. A Deny statement whose
  conditions moto cannot evaluate is ignored instead, as it would not match a request made over TLS (the emulator is
  reached over plain HTTP on loopback).
- Read-backs moto drops, each of which would make Terraform see a difference on every plan after apply: S3
  GetBucketNotificationConfiguration omits EventBridgeConfiguration; GetBucketReplication answers every rule with
  an empty prefix filter and delete marker replication Disabled; Lambda's function configuration omits
  LoggingConfig and DeadLetterConfig; Kinesis CreateStream ignores its Tags. They are kept and returned.
"""

import json
import re
import sys
import threading
import time
from datetime import datetime, timezone

from moto.core import serialize
from moto.core.responses import ActionResult, EmptyResult
from moto.athena import models as athena_models
from moto.athena import responses as athena_responses
from moto.awslambda import models as lambda_models
from moto.glue import exceptions as glue_exceptions
from moto.glue import models as glue_models
from moto.glue import responses as glue_responses
from moto.iam import access_control, policy_conditions
from moto.kinesis import responses as kinesis_responses
from moto.redshiftdata import models as redshiftdata_models
from moto.redshiftdata import responses as redshiftdata_responses
from moto.s3 import exceptions as s3_exceptions
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.server import main
from moto.stepfunctions import responses as sfn_responses

_ROOT_FIXES = {"CompleteMultipartUpload": "CompleteMultipartUploadResult"}
_original = serialize.BaseXMLSerializer._serialized_result_to_response


def _serialized_result_to_response(self, resp, result, shape, serialized_result):
    resp = _original(self, resp, result, shape, serialized_result)
    fixed_root = _ROOT_FIXES.get(self.operation_model.name)
    body = resp.get("body")
    if fixed_root and isinstance(body, str):
        wrong_root = f"{self.operation_model.name}Response"
        resp["body"] = body.replace(f"<{wrong_root}", f"<{fixed_root}").replace(f"</{wrong_root}>", f"</{fixed_root}>")
    return resp


serialize.BaseXMLSerializer._serialized_result_to_response = _serialized_result_to_response

FINISHED_DATABASE = "tributary_finished"
FAILED_DATABASE = "tributary_failed"
CONFLICT_DATABASE = "tributary_conflict_"
CONFLICT_ERROR = ("ERROR: 1023 DETAIL: Serializable isolation violation on table - 142523, transactions forming the "
                  "cycle are: 1234, 5678 (pid:12345)")
_conflicts_left = {}
NO_LEDGER_DATABASE = "tributary_noledger_"
DENIED_DATABASE = "tributary_denied_"
LEDGER_ERRORS = {
    NO_LEDGER_DATABASE: 'ERROR: relation "analytics.tributary_load_ledger" does not exist',
    DENIED_DATABASE: "ERROR: permission denied for relation tributary_load_ledger",
}
COPY_ERROR = "ERROR: Load into table 'tributary_stage' failed. Check 'sys_load_error_detail' system table for details."
LOAD_ERROR_ROW = [{"longValue": 2}, {"stringValue": "qty"}, {"longValue": 1207},
                  {"stringValue": "Invalid digit, Value 'x', Pos 0, Type: Long"}, {"stringValue": "s3://bucket/a.parquet"}]
_Response = redshiftdata_responses.RedshiftDataAPIServiceResponse
PG_DATABASE = "tributary_pg_"
_in_batch = threading.local()
_COPY = re.compile(r"^COPY (\S+) FROM '([^']*)' IAM_ROLE '[^']*' FORMAT AS PARQUET MANIFEST$")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


def _pg_conninfo(database):
    port, _, name = database[len(PG_DATABASE):].partition("_")
    return f"host=127.0.0.1 port={port} dbname={name} user=postgres"


def _s3_object(url):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    bucket, _, key = url[len("s3://"):].partition("/")
    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(bucket, key).value


# DuckDB reads the COPY's Parquet one file at a time across the emulator's statement threads: concurrent in-process
# DuckDB instances started from several threads at once have taken the whole server down without a trace.
_DUCKDB = threading.Lock()


def _copy_parquet(cursor, table, manifest_url):
    import duckdb
    import tempfile
    with cursor.connection.cursor() as probe:
        probe.execute(f"SELECT * FROM {table} LIMIT 0")
        width = len(probe.description)
    for entry in json.loads(_s3_object(manifest_url))["entries"]:
        with tempfile.NamedTemporaryFile(suffix=".parquet") as f:
            f.write(_s3_object(entry["url"]))
            f.flush()
            # Every value as text, which PostgreSQL casts to the column's type as COPY would convert it.
            with _DUCKDB, duckdb.connect() as db:
                result = db.sql(f"SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{f.name}')")
                columns, rows = result.columns, result.fetchall()
        if len(columns) != width:
            raise ValueError(f"the Parquet file {entry['url']} has {len(columns)} columns, table {table} has "
                             f"{width}: COPY from Parquet needs as many, in the table's order")
        if rows:
            cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * width)})", rows)


def _field(value):
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _run_on_postgres(statement, sqls, parameters):
    import psycopg
    values = {p["name"]: p["value"] for p in parameters or []}
    statement.pg_records = []
    failed_at, error = None, None
    durations = {}  # sub-statement index -> nanoseconds, reported as Redshift reports each one's Duration
    try:
        with psycopg.connect(_pg_conninfo(statement.database)) as conn:
            with conn.cursor() as cursor:
                for i, sql in enumerate(sqls):
                    started = time.monotonic_ns()
                    try:
                        copy = _COPY.match(sql)
                        if copy:
                            _copy_parquet(cursor, copy.group(1), copy.group(2))
                            durations[i] = time.monotonic_ns() - started
                            continue
                        sql = sql.replace("GETDATE()", "now()")
                        if values:
                            sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
                        cursor.execute(sql, values or None)
                        if cursor.description:
                            statement.pg_records = [[_field(v) for v in row] for row in cursor.fetchall()]
                        durations[i] = time.monotonic_ns() - started
                    except Exception as e:  # noqa: BLE001 - every failure is the statement's, as in Redshift
                        failed_at = i
                        message = (e.diag.message_primary if isinstance(e, psycopg.Error)
                                   else f"{type(e).__name__}: {e}")
                        error = f"ERROR: {message}"
                        conn.rollback()
                        break
    except Exception as e:  # noqa: BLE001 - a connection that fails fails the statement
        failed_at, error = 0, f"ERROR: {type(e).__name__}: {e}"
    for i, sub in enumerate(getattr(statement, "sub_statements", None) or []):
        sub["Status"] = ("FINISHED" if failed_at is None or i < failed_at
                         else "FAILED" if i == failed_at else "ABORTED")
        if i == failed_at:
            sub["Error"] = error
        sub["Duration"] = durations.get(i, -1)
    statement.error = error
    statement.status = "FAILED" if error else "FINISHED"


def _start_on_postgres(statement, sqls, parameters):
    statement.status = "STARTED"
    threading.Thread(target=_run_on_postgres, args=(statement, sqls, parameters), daemon=True).start()


def _epoch(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            return value
    return value


def _with_epoch_times(method):
    def wrapped(self):
        status, headers, body = method(self)
        doc = json.loads(body)
        for key in ("CreatedAt", "UpdatedAt"):
            if key in doc:
                doc[key] = _epoch(doc[key])
        for sub in doc.get("SubStatements") or []:
            for key in ("CreatedAt", "UpdatedAt"):
                if key in sub:
                    sub[key] = _epoch(sub[key])
        return status, headers, json.dumps(doc)

    return wrapped


def _batch_execute_statement(self):
    sqls = self._get_param("Sqls") or []
    _in_batch.active = True
    try:
        statement = self.redshiftdata_backend.execute_statement(
            cluster_identifier=self._get_param("ClusterIdentifier"),
            database=self._get_param("Database"),
            db_user=self._get_param("DbUser"),
            parameters=[],
            secret_arn=self._get_param("SecretArn"),
            sql=";\n".join(sqls),
        )
    finally:
        _in_batch.active = False
    statement.sub_statements = [
        {"Id": f"{statement.id}:{i}", "QueryString": sql, "Status": statement.status,
         "CreatedAt": statement.created_at, "UpdatedAt": statement.updated_at}
        for i, sql in enumerate(sqls, 1)
    ]
    if statement.database.startswith(PG_DATABASE):
        _start_on_postgres(statement, sqls, [])
    if statement.database.startswith(CONFLICT_DATABASE):
        left = _conflicts_left.setdefault(statement.database, int(statement.database.split("_")[2]))
        if left > 0:
            _conflicts_left[statement.database] = left - 1
            statement.status, statement.error = "FAILED", CONFLICT_ERROR
            failed_at = next((i for i, sql in enumerate(sqls) if sql.startswith("INSERT INTO ")), len(sqls) - 1)
            for i, sub in enumerate(statement.sub_statements):
                sub["Status"] = "FINISHED" if i < failed_at else "FAILED" if i == failed_at else "ABORTED"
            statement.sub_statements[failed_at].update(Error=CONFLICT_ERROR, RedshiftQueryId=4343)
    if statement.database == FAILED_DATABASE:
        statement.status, statement.error = "FAILED", COPY_ERROR
        failed_at = next((i for i, sql in enumerate(sqls) if sql.startswith("COPY ")), len(sqls) - 1)
        for i, sub in enumerate(statement.sub_statements):
            sub["Status"] = "FINISHED" if i < failed_at else "FAILED" if i == failed_at else "ABORTED"
        statement.sub_statements[failed_at].update(Error=COPY_ERROR, RedshiftQueryId=4242)
    return 200, {}, json.dumps({"Id": statement.id, "ClusterIdentifier": statement.cluster_identifier,
                                "Database": statement.database, "DbUser": statement.db_user,
                                "SecretArn": statement.secret_arn, "CreatedAt": statement.created_at})


_original_statement_init = redshiftdata_models.Statement.__init__


def _statement_init(self, *args, **kwargs):
    _original_statement_init(self, *args, **kwargs)
    self.error = None
    if self.database.startswith(PG_DATABASE):
        if not getattr(_in_batch, "active", False):
            _start_on_postgres(self, [self.query_string], self.query_parameters)
        return
    if self.database in (FINISHED_DATABASE, FAILED_DATABASE) or self.database.startswith(
            (CONFLICT_DATABASE, NO_LEDGER_DATABASE, DENIED_DATABASE)):
        # Batches against tributary_failed and tributary_conflict_* fail in _batch_execute_statement.
        self.status = "FINISHED"
        for prefix, error in LEDGER_ERRORS.items():
            if self.database.startswith(prefix) and self.query_string.startswith("SELECT file_url, etag FROM"):
                self.status, self.error = "FAILED", error


_original_statement_iter = redshiftdata_models.Statement.__iter__


def _statement_iter(self):
    yield from _original_statement_iter(self)
    if getattr(self, "error", None):
        yield "Error", self.error


_original_get_result = redshiftdata_models.RedshiftDataAPIServiceBackend.get_statement_result


def _get_statement_result(self, statement_id):
    result = _original_get_result(self, statement_id)
    statement = self.statements[statement_id]
    if statement.database.startswith(PG_DATABASE):
        records = getattr(statement, "pg_records", None) or []
        return redshiftdata_models.StatementResult([], records, len(records))
    if statement.database == FAILED_DATABASE and statement.query_string.startswith("SELECT line_number"):
        return redshiftdata_models.StatementResult([], [LOAD_ERROR_ROW], 1)
    if statement.database in (FINISHED_DATABASE, FAILED_DATABASE) or statement.database.startswith(
            (CONFLICT_DATABASE, NO_LEDGER_DATABASE, DENIED_DATABASE)):
        return redshiftdata_models.StatementResult([], [], 0)
    return result


_Response.batch_execute_statement = _with_epoch_times(_batch_execute_statement)
_Response.execute_statement = _with_epoch_times(_Response.execute_statement)
_Response.describe_statement = _with_epoch_times(_Response.describe_statement)
redshiftdata_models.Statement.__init__ = _statement_init
redshiftdata_models.Statement.__iter__ = _statement_iter
redshiftdata_models.RedshiftDataAPIServiceBackend.get_statement_result = _get_statement_result



def _validate_state_machine_definition(self):
    try:
        definition = json.loads(self._get_param("definition") or "")
        problem = None if isinstance(definition, dict) and "StartAt" in definition and "States" in definition else (
            "the definition needs StartAt and States")
    except ValueError as e:
        problem = f"the definition is not JSON: {e}"
    if problem is None:
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})
    diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": problem, "location": "/"}
    return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})


def _list_state_machine_versions(self):
    arn = self._get_param("stateMachineArn")
    machine = self.stepfunction_backend.describe_state_machine(arn)
    versions = [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                for v in sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)]
    return ActionResult({"stateMachineVersions": versions})


sfn_responses.StepFunctionResponse.validate_state_machine_definition = _validate_state_machine_definition
sfn_responses.StepFunctionResponse.list_state_machine_versions = _list_state_machine_versions

_original_statement_permitted = access_control.IAMPolicyStatement.is_action_permitted


def _statement_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    statement = self._statement
    conditions = statement.get("Condition") or {}
    if statement.get("Effect") == "Deny" and any(op not in policy_conditions.CONDITION_OPERATIONS for op in conditions):
        return access_control.PermissionResult.NEUTRAL
    return _original_statement_permitted(self, action, resource, principal, incoming_condition_values)


access_control.IAMPolicyStatement.is_action_permitted = _statement_permitted

_original_get_bucket_notification = s3_responses.S3Response.get_bucket_notification


def _get_bucket_notification(self):
    status, headers, body = _original_get_bucket_notification(self)
    config = self.backend.get_bucket_notification_configuration(self.bucket_name)
    if config is not None and config.event_bridge is not None and isinstance(body, (str, bytes)):
        text = body.decode() if isinstance(body, bytes) else body
        if "<EventBridgeConfiguration" not in text:
            text = text.replace("</NotificationConfiguration>",
                                "<EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>")
            if "<EventBridgeConfiguration" not in text:  # no configuration element at all: an empty one
                text = text.replace("<NotificationConfiguration/>", "<NotificationConfiguration>"
                                    "<EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>")
        body = text
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    return status, headers, body


s3_responses.S3Response.get_bucket_notification = _get_bucket_notification


def _get_bucket_replication(self):
    """GetBucketReplication with each rule's own Filter and DeleteMarkerReplication, which moto answers as an empty
    prefix and Disabled whatever was put."""
    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise s3_exceptions.ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)

    def put_filter(rule):
        given = rule.get("Filter")
        if not isinstance(given, dict):
            return {"Prefix": rule.get("Prefix") or ""}
        return {k: ("" if v is None else v) for k, v in given.items()}

    rules = [{"ID": rule["ID"], "Priority": rule["Priority"], "Status": rule["Status"],
              "DeleteMarkerReplication": rule.get("DeleteMarkerReplication") or {"Status": "Disabled"},
              "Filter": put_filter(rule), "Destination": rule["Destination"]}
             for rule in replication["Rule"]]
    return self.serialized(ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}))


s3_responses.S3Response.get_bucket_replication = _get_bucket_replication

_original_put_object_lock_configuration = s3_models.S3Backend.put_object_lock_configuration


def _put_object_lock_configuration(self, bucket_name, lock_enabled, mode=None, days=None, years=None):
    """A bucket that already has Object Lock may change (or drop) its default retention with objects in it."""
    bucket = self.get_bucket(bucket_name)
    if not (bucket.object_lock_enabled and bucket.is_versioned and bucket.keys.item_size() > 0):
        return _original_put_object_lock_configuration(self, bucket_name, lock_enabled, mode, days, years)
    bucket.default_lock_mode = mode
    bucket.default_lock_days = days
    bucket.default_lock_years = years


s3_models.S3Backend.put_object_lock_configuration = _put_object_lock_configuration

if not hasattr(s3_models.FakeDeleteMarker, "dispose"):
    s3_models.FakeDeleteMarker.dispose = lambda self, garbage=False: None

_LAMBDA_KEPT = ("LoggingConfig", "DeadLetterConfig")
_original_function_init = lambda_models.LambdaFunction.__init__
_original_get_configuration = lambda_models.LambdaFunction.get_configuration
_original_update_configuration = lambda_models.LambdaFunction.update_configuration


def _function_init(self, account_id, spec, region, version=1):
    _original_function_init(self, account_id, spec, region, version)
    self.kept_config = {key: spec[key] for key in _LAMBDA_KEPT if spec.get(key)}


def _get_configuration(self, on_create=False):
    config = _original_get_configuration(self, on_create)
    kept = dict(getattr(self, "kept_config", {}))
    logging = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}", **kept.pop("LoggingConfig", {})}
    return {**config, "LoggingConfig": logging, **kept}


def _update_configuration(self, config_updates):
    kept = getattr(self, "kept_config", {})
    for key in _LAMBDA_KEPT:
        if key in config_updates:
            kept[key] = config_updates[key]
    self.kept_config = {key: value for key, value in kept.items() if value}
    return _original_update_configuration(self, config_updates)


lambda_models.LambdaFunction.__init__ = _function_init
lambda_models.LambdaFunction.get_configuration = _get_configuration
lambda_models.LambdaFunction.update_configuration = _update_configuration

_original_create_stream = kinesis_responses.KinesisResponse.create_stream


def _create_stream(self):
    result = _original_create_stream(self)
    tags = self._get_param("Tags")
    if tags:
        self.kinesis_backend.add_tags_to_stream(None, self._get_param("StreamName"), tags)
    return result


kinesis_responses.KinesisResponse.create_stream = _create_stream

# --- Glue: UpdateTable's optimistic lock -------------------------------------------------------------------------
# moto ignores UpdateTable's VersionId; Glue refuses the update with ConcurrentModificationException when the table
# is no longer at that version, which is how concurrent schema registrations are settled. Check and update hold one
# lock, since moto_server serves requests on threads (CreateTable too: moto checks for the table, then adds it).

_glue_lock = threading.Lock()
_original_update_table = glue_models.GlueBackend.update_table


class _ConcurrentModification(glue_exceptions.GlueClientError):
    def __init__(self, message: str):
        super().__init__("ConcurrentModificationException", message)


def _update_table(self, database_name, table_name, table_input, version_id=None):
    with _glue_lock:
        if version_id is not None:
            current = str(self.get_table(database_name, table_name)._current_version)
            if str(version_id) != current:
                raise _ConcurrentModification(
                    f"Table {database_name}.{table_name} is at version {current}, not {version_id}"
                )
        return _original_update_table(self, database_name, table_name, table_input)


def _update_table_response(self):
    database_name = self.parameters.get("DatabaseName")
    table_input = self.parameters.get("TableInput")
    self.glue_backend.update_table(database_name, table_input.get("Name"), table_input,
                                   self.parameters.get("VersionId"))
    return EmptyResult()


_original_create_table = glue_models.GlueBackend.create_table


def _create_table(self, *args, **kwargs):
    # moto checks for an existing table and then adds one; two concurrent CreateTable calls must not both win.
    with _glue_lock:
        return _original_create_table(self, *args, **kwargs)


glue_models.GlueBackend.create_table = _create_table
glue_models.GlueBackend.update_table = _update_table
glue_responses.GlueResponse.update_table = _update_table_response



# --- Athena: an untagged workgroup exists --------------------------------------------------------------------------
# moto answers ListTagsForResource for a resource without tags with "Does Not Exist"; Athena answers an empty tag
# list, which the AWS provider reads after creating a workgroup.

_original_athena_list_tags = athena_responses.AthenaResponse.list_tags_for_resource


def _athena_list_tags(self):
    arn = self._get_param("ResourceARN") or ""
    if not self.athena_backend.list_tags_for_resource(arn) and ":workgroup/" in arn:
        if arn.rsplit(":workgroup/", 1)[1] in self.athena_backend.work_groups:
            return json.dumps({"Tags": []})
    return _original_athena_list_tags(self)


athena_responses.AthenaResponse.list_tags_for_resource = _athena_list_tags


# --- Tags by ARNs without an account ------------------------------------------------------------------------------
# With skip_requesting_account_id the AWS provider builds Athena workgroup and Glue database ARNs with an empty
# account field; moto keys tags by ARNs with its account, so the provider's default tags would read back as missing
# and every plan would show drift. An ARN with an empty account is taken as this account's.


def _with_account(arn, account_id):
    parts = (arn or "").split(":")
    if len(parts) > 5 and parts[4] == "":
        parts[4] = account_id
    return ":".join(parts)


def _by_account_arn(method):
    def wrapped(self, resource_arn, *args, **kwargs):
        return method(self, _with_account(resource_arn, self.account_id), *args, **kwargs)
    return wrapped


for _backend, _names in ((athena_models.AthenaBackend, ("list_tags_for_resource", "tag_resource", "untag_resource")),
                         (glue_models.GlueBackend, ("get_tags", "tag_resource", "untag_resource"))):
    for _name in _names:
        setattr(_backend, _name, _by_account_arn(getattr(_backend, _name)))

if __name__ == "__main__":
    main(sys.argv[1:])
