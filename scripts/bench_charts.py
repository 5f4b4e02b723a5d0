"""Draws bench-results.md as SVG bar charts: for each conversion input (data shape and size), wall time, CPU time
and peak memory per tool; and the normalize, load and burst tables where present.

A conversion section is headed `## <shape>, <size> MB input` (or `## <size> MB input`, as reports before the data
shapes were): its charts are convert-<size>-mb-{wall,cpu,rss}.svg for order_lines (the names they always had) and
convert-<shape>-<size>-mb-{wall,cpu,rss}.svg for the other shapes. Tables under a `###` heading inside a section
(the runs pinned to one CPU) are not drawn.

Usage: bench_charts.py [--results bench-results.md] [--out docs/bench]
Reads the tables `make bench` writes (their headers name the columns), so the charts always show the figures
of the last run. Plain SVG, written by hand: no plotting library, nothing to install, and a diff shows what
moved. Each chart is sorted fastest (or smallest) first, with tributary's bars in a colour of their own.
"""

import argparse
import html
import re
import sys
from pathlib import Path

WIDTH, BAR, GAP, LEFT, RIGHT, TOP = 760, 22, 8, 230, 90, 44
OURS, OTHERS, TEXT = "#1f6feb", "#9aa4b2", "#1f2328"


def tables(markdown: str):
    """(heading, header cells, rows of cells) for every table, with the nearest heading above it (any level)."""
    title, out, header, rows = None, [], None, []
    for line in markdown.splitlines() + [""]:
        if not line.startswith("|") and header is not None:
            out.append((title, header, rows))
            header, rows = None, []
        if line.startswith("#"):
            title = line.lstrip("#").strip()
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(cells)
    return out


def number(cell: str):
    m = re.match(r"^[\s*]*([0-9][0-9,]*(?:\.[0-9]+)?)", cell)
    return float(m.group(1).replace(",", "")) if m else None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def chart(title: str, unit: str, bars: list[tuple[str, float | None]], lower_is_better: bool = True) -> str:
    # A tool that failed or was skipped has no figure: it gets no bar.
    measured = [(name, value) for name, value in bars if value is not None]
    bars = sorted(measured, key=lambda b: b[1], reverse=not lower_is_better)
    top = max((v for _, v in bars), default=1.0) or 1.0
    height = TOP + len(bars) * (BAR + GAP) + 24
    span = WIDTH - LEFT - RIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="15" font-weight="600" fill="{TEXT}">{html.escape(title)}</text>',
        f'<text x="{WIDTH - 12}" y="24" text-anchor="end" fill="#57606a">{html.escape(unit)}, '
        f'{"lower" if lower_is_better else "higher"} is better</text>',
    ]
    for i, (name, value) in enumerate(bars):
        y = TOP + i * (BAR + GAP)
        w = max(1.0, span * value / top)
        ours = name.startswith("tributary")
        weight = ' font-weight="600"' if ours else ""
        label = f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
        parts += [
            f'<text x="{LEFT - 10}" y="{y + BAR * 0.7:.1f}" text-anchor="end" fill="{TEXT}"{weight}>'
            f"{html.escape(name)}</text>",
            f'<rect x="{LEFT}" y="{y}" width="{w:.1f}" height="{BAR}" rx="3" fill="{OURS if ours else OTHERS}"/>',
            f'<text x="{LEFT + w + 6:.1f}" y="{y + BAR * 0.7:.1f}" fill="{TEXT}">{label}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def conversion(title: str) -> tuple[str, str]:
    """(chart title stem, file name stem) of a conversion section: "order_lines, 100 MB input" gives
    ("order_lines 100 MB", "convert-100-mb"), "telemetry, 1000 MB input" ("telemetry 1000 MB",
    "convert-telemetry-1000-mb") and "100 MB input" (an older report's) ("100 MB", "convert-100-mb")."""
    shape, _, size = title.removesuffix(" input").rpartition(", ")
    stem = f"convert-{slug(size)}" if shape in ("", "order_lines") else f"convert-{slug(shape)}-{slug(size)}"
    return (f"{shape} {size}" if shape else size), stem


def charts(markdown: str):
    """(file name, svg) for each chart the results allow."""
    for title, header, rows in tables(markdown):
        col = {h: i for i, h in enumerate(header)}
        name = lambda r: r[0].replace("*", "")  # noqa: E731
        if title and title.endswith("input") and "wall s" in col:
            what_input, stem = conversion(title)
            for column, unit, key in (("wall s", "seconds", "wall"), ("CPU s", "CPU seconds", "cpu"),
                                      ("peak RSS MiB", "MiB", "rss")):
                bars = [(name(r), number(r[col[column]])) for r in rows]
                what = {"wall": "Wall time", "cpu": "CPU time", "rss": "Peak memory"}[key]
                yield f"{stem}-{key}.svg", chart(f"CSV → Parquet, {what_input}: {what.lower()}", unit, bars)
        elif title and title.startswith("Normalizing") and "CPU s (whole process)" in col:
            bars = [(name(r).split(" json.loads")[0], number(r[col["CPU s (whole process)"]])) for r in rows]
            yield "normalize-cpu.svg", chart("Normalizing 10,000 Kinesis records: CPU time", "CPU seconds", bars)
        elif title and title.startswith("Loading") and "rows/s" in col:
            bars = [(name(r).split(" (")[0], number(r[col["rows/s"]])) for r in rows]
            yield "load-rows-per-second.svg", chart("Loading into PostgreSQL: throughput", "rows/s", bars, False)
        elif title and title.startswith("A burst") and "seconds" in col:
            bars = [(name(r), number(r[col["seconds"]])) for r in rows]
            yield "burst-seconds.svg", chart("200 small files into one table: wall time", "seconds", bars)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=Path("bench-results.md"))
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for file_name, svg in charts(args.results.read_text()):
        (args.out / file_name).write_text(svg)
        written += 1
        print(args.out / file_name)
    if written == 0:
        print(f"no tables found in {args.results}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
