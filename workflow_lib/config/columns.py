"""A paper recipe's header: its leading comment block names the paper's main table
(`# Paper table: ...`) and maps every column of it to what produces it, one line each:

    #   column: <paper column> -> <evaluator>:<benchmark>:<metric> | exact
    #   column: <paper column> -> <evaluator>:<benchmark>:<metric> | approximation: <how>
    #   column: <paper column> -> - | missing: <why>

`<evaluator>` is a name of the evaluator registry or `area` (a BPC area of eval.bpc.areas).
`header_problems` is what config validation checks (one line per problem, naming the column):
a malformed line, or a column whose evaluator the config does not run;
tests/workflow/test_recipe_columns.py also checks each column's rows against a dry run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workflow_lib.evaluate.registry import EVALUATORS

STATUSES = ("exact", "approximation", "missing")
TABLE = re.compile(r"^#\s+Paper table:\s*(?P<table>\S.*)$")
COLUMN_START = re.compile(r"^#\s+column:")
COLUMN = re.compile(r"^#\s+column:\s*(?P<name>\S.*?)\s+->\s+(?P<target>\S+)\s+\|\s+"
                    r"(?P<status>[a-z]+)(?::\s*(?P<note>\S.*?))?\s*$")

@dataclass(frozen=True)
class Column:
    """One column of a paper's table and what produces it."""

    name: str
    status: str
    evaluator: str | None = None
    benchmark: str | None = None
    metric: str | None = None
    note: str | None = None

    def __str__(self) -> str:
        return f"{self.name!r} -> {self.evaluator}:{self.benchmark}:{self.metric}"


def parse_column(line: str) -> Column:
    """A `#   column:` line; a ValueError says what is wrong with a malformed one."""
    match = COLUMN.match(line)
    if not match:
        raise ValueError(f"not '#   column: <name> -> <evaluator>:<benchmark>:<metric> | "
                         f"<status>[: note]': {line!r}")
    name, target, status, note = match.group("name", "target", "status", "note")
    if status not in STATUSES:
        raise ValueError(f"column {name!r}: status {status!r} is not one of {STATUSES}")
    if status != "exact" and not note:
        raise ValueError(f"column {name!r}: {status} needs a note (how it differs, or why)")
    if status == "missing":
        if target != "-":
            raise ValueError(f"column {name!r}: a missing column names no producer ('-'), "
                             f"got {target!r}")
        return Column(name, status, note=note)
    parts = target.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"column {name!r}: {target!r} is not <evaluator>:<benchmark>:<metric>")
    return Column(name, status, *parts, note=note)


def parse_header(text: str) -> tuple[str | None, list[Column]]:
    """The paper table and the columns of a recipe's leading comment block."""
    table, columns = None, []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("#"):
            break
        if match := TABLE.match(line):
            table = match.group("table")
        elif COLUMN_START.match(line):
            try:
                columns.append(parse_column(line))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
    return table, columns


def header_problems(path: str | Path, config: dict) -> list[str]:
    """One line per malformed column line of a config file's header, and per column whose
    evaluator is not registered or not enabled in `config` (none for a file without a header)."""
    try:
        _, columns = parse_header(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:
        return [f"{path}: {err}"]
    problems = []
    for column in columns:
        if column.status == "missing":
            continue
        if column.evaluator == "area":
            if column.benchmark not in config["eval"]["bpc"]["areas"]:
                problems.append(f"{path}: column {column.name!r}: no BPC area "
                                f"{column.benchmark!r} in eval.bpc.areas")
        elif column.evaluator not in EVALUATORS:
            problems.append(f"{path}: column {column.name!r}: no evaluator "
                            f"{column.evaluator!r} (evaluators: {', '.join(EVALUATORS)})")
        elif not EVALUATORS[column.evaluator].enabled(config):
            problems.append(f"{path}: column {column.name!r}: its evaluator "
                            f"{column.evaluator!r} is not enabled in this config; enable it or "
                            "mark the column missing")
    return problems
