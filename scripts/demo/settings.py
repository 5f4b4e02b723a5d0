"""The demo's fixed names: where the repository is, and what the deployment is called."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NAME_PREFIX = "tributary"
BUCKET = "tributary-demo"  # the bucket the sample events in events/ name
# Every function of the workspace (functions/<name>/).
FUNCTIONS = tuple(sorted(p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")))
