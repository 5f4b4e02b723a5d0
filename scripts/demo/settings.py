"""The demo's fixed names: where the repository is, and what the deployment is called."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NAME_PREFIX = "tributary"
BUCKET = "tributary-demo"  # the bucket the sample events in events/ name
FUNCTIONS = ("csv-to-parquet", "kinesis-normalizer", "order-validator", "redshift-loader")
