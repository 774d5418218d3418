"""A checker of the markdown the report writes: GitHub-flavoured tables and Mermaid blocks.

Tables: a header row, a delimiter row of as many ``---`` cells, and body rows with the same
number of cells (``\\|`` is an escaped pipe). Mermaid: the ``xychart-beta`` subset the report
emits (title, x-axis categories, lines of numbers with one value per category), checked as
Mermaid's grammar reads it.
"""

from __future__ import annotations

import re

DELIMITER = re.compile(r"^\|( *:?-{3,}:? *\|)+$")
TITLE = re.compile(r'^title "[^"]*"$')
X_AXIS = re.compile(r'^x-axis "[^"]*" \[([^\]]*)\]$')
LINE = re.compile(r"^line \[([^\]]*)\]$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row.strip()[1:-1])


def check_tables(lines: list[str]) -> list[str]:
    """Problems of every table (a run of lines starting with ``|``)."""
    problems, index = [], 0
    while index < len(lines):
        if not lines[index].startswith("|"):
            index += 1
            continue
        start = index
        while index < len(lines) and lines[index].startswith("|"):
            index += 1
        block = lines[start:index]
        width = len(cells(block[0]))
        if len(block) < 2 or not DELIMITER.match(block[1]):
            problems.append(f"line {start + 1}: a table without a delimiter row")
            continue
        if len(cells(block[1])) != width:
            problems.append(f"line {start + 2}: delimiter has {len(cells(block[1]))} cells, "
                            f"header {width}")
        problems += [f"line {start + offset + 1}: {len(cells(row))} cells, header {width}"
                     for offset, row in enumerate(block[2:], start=2)
                     if not row.endswith("|") or len(cells(row)) != width]
        if start and lines[start - 1].strip():
            problems.append(f"line {start + 1}: a table must follow a blank line")
    return problems


def check_xychart(body: list[str], start: int) -> list[str]:
    """Problems of one ``xychart-beta`` block (``body`` without the fences)."""
    statements = [line.strip() for line in body if line.strip()]
    if not statements or statements[0] != "xychart-beta":
        return [f"line {start}: a Mermaid block that is not xychart-beta"]
    problems, categories, lines = [], None, 0
    for statement in statements[1:]:
        if TITLE.match(statement):
            continue
        if axis := X_AXIS.match(statement):
            categories = [item.strip() for item in axis.group(1).split(",")]
            continue
        if line := LINE.match(statement):
            values = [item.strip() for item in line.group(1).split(",")]
            if not all(NUMBER.match(value) for value in values):
                problems.append(f"line {start}: a line with a value that is not a number")
            if categories is not None and len(values) != len(categories):
                problems.append(f"line {start}: {len(values)} values, {len(categories)} epochs")
            lines += 1
            continue
        problems.append(f"line {start}: unknown statement {statement!r}")
    if categories is None or not lines:
        problems.append(f"line {start}: a chart needs an x-axis and a line")
    return problems


def check_markdown(text: str) -> list[str]:
    """Every problem found (empty when the tables and Mermaid blocks are well-formed)."""
    lines = text.splitlines()
    problems, outside, index = [], [], 0
    while index < len(lines):
        if lines[index].startswith("```"):
            fence, start = lines[index], index
            end = next((i for i in range(index + 1, len(lines)) if lines[i] == "```"), None)
            if end is None:
                return [*problems, f"line {start + 1}: an unclosed code block"]
            if fence == "```mermaid":
                problems += check_xychart(lines[start + 1:end], start + 1)
            outside += [""] * (end - start + 1)
            index = end + 1
            continue
        outside.append(lines[index])
        index += 1
    return problems + check_tables(outside)
