"""The demo's fixed names: where the repository is, and what the deployment is called."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NAME_PREFIX = "tributary"
# The landing bucket takes the raw inputs (raw/, orders/incoming/) under Object Lock: the bucket the sample events in
# events/ name. Every output is in the data bucket.
LANDING_BUCKET = "tributary-demo"
BUCKET = "tributary-demo-data"
# Every function of the workspace (functions/<name>/).
FUNCTIONS = tuple(sorted(p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")))
