"""S3 side of `make demo`: seed the emulator with the sample data, then show what the pipeline wrote.

Usage: demo_s3.py ENDPOINT setup | show
Uses boto3, which comes with moto[server] (requirements/test.txt).
"""

import csv
import io
import sys
from pathlib import Path

import boto3

BUCKET = "tributary-demo"
ROOT = Path(__file__).resolve().parent.parent
SOURCE_KEY = "raw/orders/order lines 2026-11-21.csv"  # the key events/s3-object-created-csv.json names


def client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def setup(s3) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="schemas/orders.json", Body=(ROOT / "events/data/order_lines.schema.json").read_bytes())
    s3.put_object(Bucket=BUCKET, Key=SOURCE_KEY, Body=(ROOT / "events/data/order_lines.csv").read_bytes())
    print(f"uploaded s3://{BUCKET}/{SOURCE_KEY} and s3://{BUCKET}/schemas/orders.json")


def show(s3) -> None:
    print(f"\nobjects in s3://{BUCKET}:")
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        print(f"  {obj['Size']:>8}  {obj['Key']}")
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="quarantine/").get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read().decode()
        print(f"\nquarantined rows ({obj['Key']}): line, reason")
        for row in list(csv.reader(io.StringIO(body)))[1:]:
            print(f"  line {row[0]}: {row[1]}")


if __name__ == "__main__":
    endpoint, action = sys.argv[1], sys.argv[2]
    {"setup": setup, "show": show}[action](client(endpoint))
