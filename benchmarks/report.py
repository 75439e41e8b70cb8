"""Write one benchmark's section of docs/benchmarks.md, leaving the other sections as they are."""

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fer_helpers.files import atomic_write

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nWritten by the scripts in `benchmarks/`; each section says how to regenerate it.\n"


def median_seconds(action: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Run `action` `repeats` times; the median and all wall-clock times in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section between <!-- name --> markers in docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else HEADER
    block = f"<!-- {name} -->\n{markdown.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    atomic_write(DOC, lambda tmp: tmp.write_text(text))


def cell(value: object) -> str:
    """A table cell: whole numbers with thousands separators, other floats with two decimals."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        value = int(value)
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def markdown_table(table) -> str:
    """A pandas DataFrame as a Markdown table, index first (no tabulate dependency)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(table.columns) + "|"]
    for index, row in table.iterrows():
        cells = [cell(v) for v in row]
        lines.append("| " + " | ".join([str(index), *cells]) + " |")
    return "\n".join(lines)
