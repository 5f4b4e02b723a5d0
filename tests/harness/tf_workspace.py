"""infra/terraform ready to apply against the emulator: the one preparation behind the Terraform test
(tests/harness/tests/terraform.rs) and `make demo`.

It copies the module's own files (its `.tf` files and the folders beside them, not `.terraform/`, a lock file, state,
local tfvars or override files, so nothing depends on the checkout's leftovers), adds the provider override from
infra/emulator/provider_override.tf.tpl, one copy of the committed placeholder zip per function, and the committed
variables in infra/emulator/emulator.tfvars.json plus the run's own (name prefix, buckets, zip directory).

    python tests/harness/tf_workspace.py DIR --endpoint URL --name-prefix P [--bucket B] [--landing-bucket L]

prints the module directory (DIR/module) to run `terraform init` and `apply` in.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra/terraform"
EMULATOR = ROOT / "infra/emulator"
# Every function of the workspace (functions/<name>/), each of which the module deploys.
FUNCTIONS = tuple(sorted(p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")))


def _module_files(directory: str, names: list[str]) -> set[str]:
    top = Path(directory) == MODULE
    ignored = set()
    for name in names:
        path = Path(directory) / name
        if path.is_dir():
            if name.startswith("."):
                ignored.add(name)
        elif top and (not name.endswith(".tf") or name.endswith("override.tf")):
            ignored.add(name)
    return ignored


def prepare(base: Path, endpoint: str, name_prefix: str, bucket: str | None = None,
            landing_bucket: str | None = None) -> Path:
    """Writes the workspace under `base` and returns its module directory. `bucket` and `landing_bucket` name the
    data and landing buckets (default: the module's names, from the prefix)."""
    module = base / "module"
    shutil.copytree(MODULE, module, ignore=_module_files)
    template = (EMULATOR / "provider_override.tf.tpl").read_text()
    (module / "emulator_override.tf").write_text(template.replace("ENDPOINT", endpoint))
    zips = base / "zips"
    for function in FUNCTIONS:
        (zips / function).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EMULATOR / "placeholder-bootstrap.zip", zips / function / "bootstrap.zip")
    variables = json.loads((EMULATOR / "emulator.tfvars.json").read_text())
    variables.update({"name_prefix": name_prefix, "lambda_zip_dir": str(zips)})
    if bucket is not None:
        variables["bucket_name"] = bucket
    if landing_bucket is not None:
        variables["landing_bucket_name"] = landing_bucket
    (module / "emulator.auto.tfvars.json").write_text(json.dumps(variables, indent=2) + "\n")
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--name-prefix", required=True)
    parser.add_argument("--bucket")
    parser.add_argument("--landing-bucket")
    args = parser.parse_args()
    print(prepare(args.dir, args.endpoint, args.name_prefix, args.bucket, args.landing_bucket))


if __name__ == "__main__":
    main()
