"""`python scripts/demo [--json FILE] [--stay]`: the command line of `make demo` (see __init__.py)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

# Run as `python scripts/demo`, this directory is on sys.path and its parent is not. The package is imported as
# `demo` from scripts/ (where gen_order_lines.py, which it shares with the benchmark, is too), and this directory
# leaves sys.path, so that its modules (data, report, settings, ...) cannot shadow a library's.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import demo  # noqa: E402
from demo.flows import Demo  # noqa: E402


def interrupted(_signum, _frame):
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=demo.__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument("--stay", action="store_true", help="keep the stack running after the report (Ctrl-C ends)")
    args = parser.parse_args()
    # Ctrl-C and termination end the demo through its cleanup.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started in the background, where SIGINT is ignored
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # The project venv's tools (cargo-lambda, zig) for the processes started here, as the Makefile does.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return Demo(args).run()


if __name__ == "__main__":
    sys.exit(main())
