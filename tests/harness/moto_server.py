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
  to completion; any other database keeps moto's canned behaviour, for tests of bounded polling.
"""

import json
import sys
from datetime import datetime, timezone

from moto.core import serialize
from moto.redshiftdata import models as redshiftdata_models
from moto.redshiftdata import responses as redshiftdata_responses
from moto.server import main

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
_Response = redshiftdata_responses.RedshiftDataAPIServiceResponse


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
    statement = self.redshiftdata_backend.execute_statement(
        cluster_identifier=self._get_param("ClusterIdentifier"),
        database=self._get_param("Database"),
        db_user=self._get_param("DbUser"),
        parameters=[],
        secret_arn=self._get_param("SecretArn"),
        sql=";\n".join(sqls),
    )
    statement.sub_statements = [
        {"Id": f"{statement.id}:{i}", "QueryString": sql, "Status": statement.status,
         "CreatedAt": statement.created_at, "UpdatedAt": statement.updated_at}
        for i, sql in enumerate(sqls, 1)
    ]
    return 200, {}, json.dumps({"Id": statement.id, "ClusterIdentifier": statement.cluster_identifier,
                                "Database": statement.database, "DbUser": statement.db_user,
                                "SecretArn": statement.secret_arn, "CreatedAt": statement.created_at})


_original_statement_init = redshiftdata_models.Statement.__init__


def _statement_init(self, *args, **kwargs):
    _original_statement_init(self, *args, **kwargs)
    if self.database == FINISHED_DATABASE:
        self.status = "FINISHED"


_original_get_result = redshiftdata_models.RedshiftDataAPIServiceBackend.get_statement_result


def _get_statement_result(self, statement_id):
    result = _original_get_result(self, statement_id)
    if self.statements[statement_id].database == FINISHED_DATABASE:
        return redshiftdata_models.StatementResult([], [], 0)
    return result


_Response.batch_execute_statement = _with_epoch_times(_batch_execute_statement)
_Response.execute_statement = _with_epoch_times(_Response.execute_statement)
_Response.describe_statement = _with_epoch_times(_Response.describe_statement)
redshiftdata_models.Statement.__init__ = _statement_init
redshiftdata_models.RedshiftDataAPIServiceBackend.get_statement_result = _get_statement_result

if __name__ == "__main__":
    main(sys.argv[1:])
