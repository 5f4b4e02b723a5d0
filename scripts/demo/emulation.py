"""What AWS would do that the emulator does not, as pure functions: the S3 event notification and the EventBridge
event for a new object, which Lambda notification and which rule pattern match it, and the Kinesis event source
mapping's events, partial-batch failures, redelivery and on-failure record. The demo's flows do the I/O."""

from __future__ import annotations

import base64
import time
import uuid
from typing import NamedTuple
from urllib.parse import quote_plus

from .data import now_iso
from .settings import LANDING_BUCKET, NAME_PREFIX, REGION

# --- S3 -> EventBridge, S3 -> Lambda ---------------------------------------------------------------------------------
# Objects that start something arrive in the landing bucket, whose events these are.


def eventbridge_object_created(account: str, key: str, head: dict) -> dict:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
        "account": account, "time": now_iso()[:19] + "Z", "region": REGION,
        "resources": [f"arn:aws:s3:::{LANDING_BUCKET}"],
        "detail": {"version": "0", "bucket": {"name": LANDING_BUCKET},
                   "object": {"key": key, "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
                              "sequencer": f"{time.time_ns():X}"},
                   "request-id": uuid.uuid4().hex[:16].upper(), "requester": account, "reason": "PutObject"},
    }


def s3_notification(key: str, head: dict, configuration_id: str) -> dict:
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": now_iso(),
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:AIDADEMO"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": f"{time.time_ns():X}"}, "s3": {
            "s3SchemaVersion": "1.0", "configurationId": configuration_id,
            "bucket": {"name": LANDING_BUCKET, "arn": f"arn:aws:s3:::{LANDING_BUCKET}"},
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
    if len(parts) == 1:
        return text == pattern
    if not text.startswith(parts[0]) or not text.endswith(parts[-1]) or len(text) < len(parts[0]) + len(parts[-1]):
        return False
    position = len(parts[0])
    for middle in parts[1:-1]:
        found = text.find(middle, position, len(text) - len(parts[-1]))
        if found < 0:
            return False
        position = found + len(middle)
    return True


# --- the Kinesis event source mapping -------------------------------------------------------------------------------


class EventSourceMapping(NamedTuple):
    """The settings of a deployed mapping that the demo plays."""

    batch_size: int
    max_retries: int
    reports_failures: bool  # FunctionResponseTypes has ReportBatchItemFailures
    on_failure: str | None  # the on-failure destination's ARN

    @classmethod
    def from_api(cls, mapping: dict) -> EventSourceMapping:
        """From a mapping as ListEventSourceMappings describes it, with Lambda's defaults for what it leaves out."""
        return cls(
            batch_size=mapping.get("BatchSize", 100),
            max_retries=mapping.get("MaximumRetryAttempts", 0),
            reports_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
            on_failure=mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
        )


def kinesis_event(shard_id: str, stream_arn: str, batch: list[dict]) -> dict:
    """The Lambda event for a batch of GetRecords records."""
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"{shard_id}:{r['SequenceNumber']}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::123456789012:role/{NAME_PREFIX}-kinesis-normalizer",
        "awsRegion": REGION, "eventSourceARN": stream_arn} for r in batch]}


def failed_items(response: dict, reports_failures: bool) -> list[str]:
    """The sequence numbers a function's answer reports as failed; ignored unless the mapping asks for them."""
    return [f["itemIdentifier"] for f in response.get("batchItemFailures", [])] if reports_failures else []


def redelivered(batch: list[dict], failures: list[str]) -> list[dict]:
    """What Kinesis delivers again: it checkpoints before the first failed record and redelivers from it (the whole
    batch when no failure names one of its records)."""
    first = next((i for i, r in enumerate(batch) if r["SequenceNumber"] in failures), 0)
    return batch[first:]


def on_failure_record(shard_id: str, stream_arn: str, batch: list[dict], invocations: int) -> dict:
    """The message the mapping sends its on-failure destination for a batch whose retries are exhausted."""
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": invocations},
        "KinesisBatchInfo": {"shardId": shard_id, "batchSize": len(batch), "streamArn": stream_arn,
                             "startSequenceNumber": batch[0]["SequenceNumber"],
                             "endSequenceNumber": batch[-1]["SequenceNumber"]}}
