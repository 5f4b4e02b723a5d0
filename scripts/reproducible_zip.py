"""Rewrite Lambda zips so the same binary always gives the same bytes.

cargo-lambda stores each file's modification time in the zip, so a rebuild of unchanged code changes the zip's
hash and Terraform's `source_code_hash` with it. This rewrites every entry with a fixed timestamp and fixed
permissions, in name order, keeping the contents: identical binaries give identical zips.

Usage: python scripts/reproducible_zip.py target/lambda/<function>/bootstrap.zip ...
"""

import sys
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


def normalise(path: Path) -> None:
    with zipfile.ZipFile(path) as source:
        entries = sorted(((info.filename, source.read(info)) for info in source.infolist()), key=lambda e: e[0])
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o100755 << 16  # a regular, executable file (bootstrap must be executable)
            info.create_system = 3  # unix, so the mode bits are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
    tmp.replace(path)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for p in paths:
        normalise(Path(p))
        print(f"normalised {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
