"""Unit tests of emulation.py: `python -m unittest discover -s scripts/demo -p 'test_*.py'` (part of `make test`)."""

from __future__ import annotations

import base64
import json
import sys
import unittest
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: the package is `demo`

from demo.emulation import (EventSourceMapping, eventbridge_object_created, failed_items,  # noqa: E402
                            kinesis_event, notification_target, on_failure_record, pattern_matches, redelivered,
                            s3_notification, wildcard)

HEAD = {"ContentLength": 1234, "ETag": '"0123456789abcdef0123456789abcdef"'}


class WildcardTest(unittest.TestCase):
    def test_no_star_never_matches_another_text(self):
        self.assertFalse(wildcard("raw/orders/a.csv", "raw/orders/a.csvx"))
        self.assertFalse(wildcard("raw/orders/a.csv", "xraw/orders/a.csv"))

    def test_no_star_is_an_exact_match(self):
        # EventBridge: a wildcard without `*` matches its own text only.
        self.assertTrue(wildcard("raw/orders/a.csv", "raw/orders/a.csv"))
        self.assertFalse(wildcard("raw/orders/a.csv", "raw/orders/a.csv.gz"))

    def test_leading_and_trailing_stars(self):
        self.assertTrue(wildcard("raw/orders/*", "raw/orders/x.csv"))
        self.assertTrue(wildcard("raw/orders/*", "raw/orders/"))
        self.assertFalse(wildcard("raw/orders/*", "raw/order/x.csv"))
        self.assertTrue(wildcard("*.csv", "a/b/c.csv"))
        self.assertFalse(wildcard("*.csv", "a/b/c.csv.gz"))
        self.assertTrue(wildcard("*", ""))

    def test_middle_stars_match_in_order(self):
        self.assertTrue(wildcard("raw/*/2026/*.csv", "raw/orders/2026/lines.csv"))
        self.assertTrue(wildcard("a*b*c", "abc"))
        self.assertTrue(wildcard("a*b*c", "aXXbYYc"))
        self.assertFalse(wildcard("a*b*c", "acb"))
        self.assertFalse(wildcard("raw/*/2026/*.csv", "raw/orders/2025/lines.csv"))

    def test_prefix_and_suffix_may_not_overlap(self):
        self.assertFalse(wildcard("ab*ba", "aba"))
        self.assertTrue(wildcard("ab*ba", "abba"))
        self.assertTrue(wildcard("a*b*a", "aba"))  # each `*` may match nothing
        # A middle part must fit between prefix and suffix, not inside them.
        self.assertFalse(wildcard("a*b*a", "aa"))
        self.assertFalse(wildcard("x*.csv*.csv", "x.csv"))
        self.assertFalse(wildcard("a*bc*d", "abd"))
        self.assertFalse(wildcard("a*b*c", "ac"))
        # Middle parts may not overlap each other either.
        self.assertFalse(wildcard("*aa*aa*", "aaa"))
        self.assertTrue(wildcard("*aa*aa*", "aaaa"))


class PatternMatchesTest(unittest.TestCase):
    PATTERN = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["tributary-demo"]}, "object": {"key": [{"prefix": "raw/orders/"}]}},
    }
    # infra/terraform/orchestration.tf's rule for raw CSV objects.
    DEPLOYED = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["tributary-demo"]},
                   "object": {"key": [{"wildcard": "raw/*.csv"}, {"wildcard": "raw/*.csv.gz"}]}},
    }

    def event(self, **detail_object) -> dict:
        return {"source": "aws.s3", "detail-type": "Object Created",
                "detail": {"bucket": {"name": "tributary-demo"},
                           "object": {"key": "raw/orders/a.csv", **detail_object}}}

    def test_a_nested_pattern_matches_the_event(self):
        self.assertTrue(pattern_matches(self.PATTERN, self.event()))

    def test_prefix(self):
        self.assertFalse(pattern_matches(self.PATTERN, self.event(key="raw/ordersx/a.csv")))
        self.assertFalse(pattern_matches(self.PATTERN, self.event(key="curated/raw/orders/a.csv")))

    def test_exact_values_are_a_list_of_alternatives(self):
        pattern = {"detail-type": ["Object Deleted", "Object Created"]}
        self.assertTrue(pattern_matches(pattern, {"detail-type": "Object Created"}))
        self.assertFalse(pattern_matches(pattern, {"detail-type": "Object Restored"}))
        self.assertFalse(pattern_matches({"detail-type": ["Object Created"]}, {"detail-type": "object created"}))

    def test_numbers_and_strings_differ(self):
        self.assertTrue(pattern_matches({"size": [5]}, {"size": 5}))
        self.assertFalse(pattern_matches({"size": ["5"]}, {"size": 5}))

    def test_a_field_the_event_lacks_does_not_match(self):
        self.assertFalse(pattern_matches({"source": ["aws.s3"], "account": ["1"]}, {"source": "aws.s3"}))
        self.assertFalse(pattern_matches({"detail": {"object": {"key": ["k"]}}}, {"detail": "k"}))
        # A nested pattern against a value that is not an object, even one that contains the name.
        self.assertFalse(pattern_matches({"detail": {"key": ["k"]}}, {"detail": "key"}))
        self.assertFalse(pattern_matches({"detail": {"key": ["k"]}}, {"detail": ["key"]}))

    def test_fields_the_pattern_does_not_name_are_ignored(self):
        self.assertTrue(pattern_matches({"source": ["aws.s3"]}, {"source": "aws.s3", "region": "us-east-1"}))
        self.assertTrue(pattern_matches({}, {"anything": 1}))

    def test_suffix_and_wildcard(self):
        self.assertTrue(pattern_matches({"key": [{"suffix": ".csv"}]}, {"key": "raw/orders/a.csv"}))
        self.assertFalse(pattern_matches({"key": [{"suffix": ".csv"}]}, {"key": "raw/orders/a.json"}))
        self.assertTrue(pattern_matches({"key": [{"wildcard": "raw/*/a.*"}]}, {"key": "raw/orders/a.csv"}))
        self.assertFalse(pattern_matches({"key": [{"wildcard": "raw/*/a.*"}]}, {"key": "raw/orders/b.csv"}))

    def test_content_matchers_need_a_string(self):
        self.assertFalse(pattern_matches({"key": [{"prefix": "1"}]}, {"key": 12}))
        self.assertFalse(pattern_matches({"key": [{"suffix": "2"}]}, {"key": 12}))
        self.assertFalse(pattern_matches({"key": [{"wildcard": "*"}]}, {"key": None}))

    def test_any_matcher_of_the_list_may_match(self):
        pattern = {"key": [{"prefix": "raw/"}, {"suffix": ".json"}, "exact"]}
        self.assertTrue(pattern_matches(pattern, {"key": "raw/x"}))
        self.assertTrue(pattern_matches(pattern, {"key": "orders/x.json"}))
        self.assertTrue(pattern_matches(pattern, {"key": "exact"}))
        self.assertFalse(pattern_matches(pattern, {"key": "orders/x.csv"}))

    def test_unsupported_matchers_never_match(self):
        # anything-but, numeric, exists... are not emulated: a rule that uses them is reported as not routing.
        self.assertFalse(pattern_matches({"key": [{"anything-but": "x"}]}, {"key": "y"}))
        self.assertFalse(pattern_matches({"key": [{"anything-but": {"prefix": "x"}}]}, {"key": "y"}))
        self.assertFalse(pattern_matches({"size": [{"numeric": [">", 0]}]}, {"size": 5}))

    def test_the_demo_event_matches_its_rule(self):
        event = eventbridge_object_created("123456789012", "raw/orders/order lines 2026-11-21.csv", HEAD)
        self.assertTrue(pattern_matches(self.DEPLOYED, event))
        self.assertTrue(pattern_matches(self.PATTERN, event))
        self.assertTrue(pattern_matches(
            self.DEPLOYED, eventbridge_object_created("1", "raw/orders/order lines.csv.gz", HEAD)))
        self.assertFalse(pattern_matches(
            self.DEPLOYED, eventbridge_object_created("1", "raw/orders/order lines.json", HEAD)))
        self.assertFalse(pattern_matches(
            self.DEPLOYED, eventbridge_object_created("1", "curated/orders/order lines.csv", HEAD)))
        self.assertEqual(event["detail"]["object"]["key"], "raw/orders/order lines 2026-11-21.csv")  # not encoded
        self.assertEqual(event["detail"]["object"]["etag"], "0123456789abcdef0123456789abcdef")
        self.assertEqual(event["detail"]["object"]["size"], 1234)
        self.assertEqual(event["resources"], ["arn:aws:s3:::tributary-demo"])
        self.assertEqual((event["account"], event["region"]), ("123456789012", "us-east-1"))
        self.assertRegex(event["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class NotificationTargetTest(unittest.TestCase):
    CONFIG = {"LambdaFunctionConfigurations": [
        {"Id": "deleted", "LambdaFunctionArn": "arn:deleted", "Events": ["s3:ObjectRemoved:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "orders/incoming/"}]}}},
        {"Id": "orders", "LambdaFunctionArn": "arn:validator", "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "orders/incoming/"},
                                            {"Name": "Suffix", "Value": ".json"}]}}},
        {"Id": "csv", "LambdaFunctionArn": "arn:converter", "Events": ["s3:ObjectCreated:Put"],
         "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}}},
    ]}

    def test_prefix_and_suffix_both_match(self):
        self.assertEqual(notification_target(self.CONFIG, "orders/incoming/PO-1.json"), ("arn:validator", "orders"))

    def test_rule_names_are_case_insensitive(self):
        # "Prefix"/"Suffix" above, as GetBucketNotificationConfiguration answers, and "suffix" below.
        self.assertEqual(notification_target(self.CONFIG, "raw/a.csv"), ("arn:converter", "csv"))

    def test_no_match(self):
        self.assertIsNone(notification_target(self.CONFIG, "orders/incoming/PO-1.xml"))
        self.assertIsNone(notification_target(self.CONFIG, "orders/PO-1.json"))
        self.assertIsNone(notification_target(self.CONFIG, "orders/incoming/PO-1.json.bak"))
        self.assertIsNone(notification_target({}, "orders/incoming/PO-1.json"))

    def test_only_object_created_events_count(self):
        config = {"LambdaFunctionConfigurations": self.CONFIG["LambdaFunctionConfigurations"][:1]}
        self.assertIsNone(notification_target(config, "orders/incoming/PO-1.json"))

    def test_the_first_matching_configuration_wins_and_no_filter_matches_every_key(self):
        config = {"LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": "arn:all", "Events": ["s3:ObjectCreated:*"]},
            self.CONFIG["LambdaFunctionConfigurations"][1]]}
        self.assertEqual(notification_target(config, "orders/incoming/PO-1.json"), ("arn:all", ""))
        self.assertEqual(notification_target(config, "anything"), ("arn:all", ""))


class S3NotificationTest(unittest.TestCase):
    def key(self, key: str) -> str:
        return s3_notification(key, HEAD, "orders")["Records"][0]["s3"]["object"]["key"]

    def test_the_key_is_url_encoded_as_s3_does(self):
        self.assertEqual(self.key("orders/incoming/PO-1.json"), "orders/incoming/PO-1.json")
        self.assertEqual(self.key("orders/incoming/PO 1 (resent).json"), "orders/incoming/PO+1+%28resent%29.json")
        self.assertEqual(self.key("orders/incoming/a+b.json"), "orders/incoming/a%2Bb.json")
        self.assertEqual(self.key("orders/incoming/é,&=%.json"), "orders/incoming/%C3%A9%2C%26%3D%25.json")

    def test_the_record(self):
        record = s3_notification("orders/incoming/PO-1.json", HEAD, "orders")["Records"][0]
        self.assertEqual((record["eventSource"], record["eventName"], record["awsRegion"]),
                         ("aws:s3", "ObjectCreated:Put", "us-east-1"))
        self.assertEqual(record["s3"]["configurationId"], "orders")
        self.assertEqual(record["s3"]["bucket"], {"name": "tributary-demo", "arn": "arn:aws:s3:::tributary-demo"})
        self.assertEqual(record["s3"]["object"]["eTag"], "0123456789abcdef0123456789abcdef")
        self.assertEqual(record["s3"]["object"]["size"], 1234)
        self.assertRegex(record["eventTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(record["s3"]["object"]["sequencer"], r"^[0-9A-F]+$")


def records(*numbers: str) -> list[dict]:
    arrived = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
    return [{"SequenceNumber": n, "PartitionKey": f"key-{n}", "Data": f"data {n}".encode(),
             "ApproximateArrivalTimestamp": arrived} for n in numbers]


class EventSourceMappingTest(unittest.TestCase):
    def test_settings_with_lambdas_defaults(self):
        self.assertEqual(EventSourceMapping.from_api({}), EventSourceMapping(100, 0, False, None))
        mapping = EventSourceMapping.from_api({
            "BatchSize": 25, "MaximumRetryAttempts": 3, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:dlq"}}})
        self.assertEqual(mapping, EventSourceMapping(25, 3, True, "arn:aws:sqs:us-east-1:1:dlq"))

    def test_kinesis_event(self):
        event = kinesis_event("shardId-000000000000", "arn:aws:kinesis:us-east-1:1:stream/s", records("1", "2"))
        self.assertEqual(len(event["Records"]), 2)
        first = event["Records"][0]
        self.assertEqual(first["eventID"], "shardId-000000000000:1")
        self.assertEqual(first["eventSourceARN"], "arn:aws:kinesis:us-east-1:1:stream/s")
        self.assertEqual((first["eventSource"], first["eventName"]), ("aws:kinesis", "aws:kinesis:record"))
        self.assertEqual(first["invokeIdentityArn"], "arn:aws:iam::123456789012:role/tributary-kinesis-normalizer")
        self.assertEqual(first["kinesis"]["partitionKey"], "key-1")
        self.assertEqual(base64.b64decode(first["kinesis"]["data"]), b"data 1")
        self.assertEqual(first["kinesis"]["approximateArrivalTimestamp"], 1795255200.0)

    def test_failed_items_only_when_the_mapping_reports_them(self):
        response = {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}
        self.assertEqual(failed_items(response, True), ["2", "3"])
        self.assertEqual(failed_items(response, False), [])
        self.assertEqual(failed_items({}, True), [])

    def test_redelivery_starts_at_the_first_failed_record(self):
        batch = records("1", "2", "3", "4")
        self.assertEqual([r["SequenceNumber"] for r in redelivered(batch, ["4", "2"])], ["2", "3", "4"])
        self.assertEqual([r["SequenceNumber"] for r in redelivered(batch, ["4"])], ["4"])
        # A failure that names no record of the batch: the whole batch again.
        self.assertEqual([r["SequenceNumber"] for r in redelivered(batch, ["9"])], ["1", "2", "3", "4"])

    def test_on_failure_record(self):
        message = on_failure_record("shardId-1", "arn:stream", records("5", "6", "7"), 3)
        self.assertEqual(message, {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "KinesisBatchInfo": {"shardId": "shardId-1", "batchSize": 3, "streamArn": "arn:stream",
                                 "startSequenceNumber": "5", "endSequenceNumber": "7"}})


class SampleEventsTest(unittest.TestCase):
    def test_the_sample_events_and_the_emulated_ones_name_the_landing_bucket(self):
        """Objects that start something arrive in the landing bucket: the demo's emulated events name it, and so do
        the sample events in events/, which `cargo lambda invoke` replays against the demo's stack."""
        from demo.settings import BUCKET, LANDING_BUCKET, ROOT

        self.assertNotEqual(BUCKET, LANDING_BUCKET)
        self.assertEqual(eventbridge_object_created("1", "raw/a.csv", HEAD)["detail"]["bucket"]["name"], LANDING_BUCKET)
        self.assertEqual(s3_notification("raw/a.csv", HEAD, "c")["Records"][0]["s3"]["bucket"]["name"], LANDING_BUCKET)
        events = ROOT / "events"
        samples = {
            "s3-object-created-csv.json": lambda e: e["Records"][0]["s3"]["bucket"]["name"],
            "s3-object-created-order.json": lambda e: e["Records"][0]["s3"]["bucket"]["name"],
            "eventbridge-object-created-csv.json": lambda e: e["detail"]["bucket"]["name"],
            "sfn-convert-csv.json": lambda e: e["bucket"],
        }
        for name, bucket in samples.items():
            self.assertEqual(bucket(json.loads((events / name).read_text())), LANDING_BUCKET, name)


if __name__ == "__main__":
    unittest.main()
