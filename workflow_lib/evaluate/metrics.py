"""The metrics contract between the evaluators and the report (docs/metrics-contract.md).

Every evaluator writes one run's metrics with `write_metrics` as
`results/eval/{run}/{evaluator}/metrics.json` (the path: `evaluate.registry`); the report reads
them with `read_metrics`. Both go through `RunMetrics` and `MetricRow`, which refuse anything
outside the contract, so a file that one side writes the other side reads.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from workflow_lib.core.jsonio import DataError, type_name, write_json
from workflow_lib.evaluate.registry import EVALUATORS


class ContractError(ValueError):
    """A metrics document outside the contract; `field` names the part at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message, self.field = message, field


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _name(v: object) -> bool:
    return isinstance(v, str) and bool(v)


_Checks = dict[str, tuple[str, Callable[[object], bool]]]
_ROW_CHECKS: _Checks = {
    "benchmark": ("a non-empty string", _name),
    "metric": ("a non-empty string", _name),
    "value": ("a finite number or null", lambda v: v is None or _number(v)),
    "stderr": ("a finite number >= 0 or null", lambda v: v is None or (_number(v) and v >= 0)),
    "n": ("an integer >= 0 or null",
          lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)),
    "higher_is_better": ("true or false", lambda v: isinstance(v, bool)),
}
_DOC_CHECKS: _Checks = {
    "run": ("a non-empty string", _name),
    "evaluator": (f"one of {', '.join(EVALUATORS)}", lambda v: v in EVALUATORS),
}


def _check(values: Mapping[str, object], checks: _Checks) -> None:
    for key, (expected, ok) in checks.items():
        if not ok(values[key]):
            raise ContractError(f"expected {expected}, got {values[key]!r}", key)


@dataclass(frozen=True)
class MetricRow:
    """One number an evaluator reports for a run.

    `benchmark` is the task, corpus or question set; `metric` what was measured on it; `value`
    the number, None when the evaluator ran but got no finite number; `stderr` its standard
    error (None: not computed); `n` the count it is over (documents, characters, items; None:
    unknown); `higher_is_better` its direction.
    """

    benchmark: str
    metric: str
    value: float | None
    stderr: float | None
    n: int | None
    higher_is_better: bool

    def __post_init__(self) -> None:
        _check(asdict(self), _ROW_CHECKS)


@dataclass(frozen=True)
class RunMetrics:
    """The metrics of one run from one evaluator: the content of one metrics.json.

    Each (benchmark, metric) appears once.
    """

    run: str
    evaluator: str
    rows: tuple[MetricRow, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        _check({"run": self.run, "evaluator": self.evaluator}, _DOC_CHECKS)
        seen = set()
        for i, row in enumerate(self.rows):
            if not isinstance(row, MetricRow):
                raise ContractError(f"expected a MetricRow, got {type_name(row)}", f"metrics[{i}]")
            key = (row.benchmark, row.metric)
            if key in seen:
                raise ContractError(f"{row.benchmark} {row.metric} is reported twice",
                                    f"metrics[{i}]")
            seen.add(key)

    def to_json(self) -> dict:
        """The document as written to metrics.json."""
        return {"run": self.run, "evaluator": self.evaluator,
                "metrics": [asdict(row) for row in self.rows]}


def write_metrics(path: str | os.PathLike, metrics: RunMetrics) -> None:
    """Write `metrics` atomically as metrics.json (JSON, indented by 2)."""
    write_json(path, metrics.to_json())


def _require_keys(obj: object, allowed: Iterable[str], path: str | os.PathLike,
                  where: str) -> None:
    """DataError unless `obj` is a JSON object with exactly the `allowed` keys."""
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object, got {type_name(obj)}", path=path,
                        field=where.rstrip(".") or None)
    allowed = list(allowed)
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise DataError(f"unknown key (allowed: {', '.join(allowed)})", path=path,
                        field=f"{where}{unknown[0]}")
    for key in allowed:
        if key not in obj:
            raise DataError("missing", path=path, field=f"{where}{key}")


def read_metrics(path: str | os.PathLike) -> RunMetrics:
    """Read one metrics.json; a file outside the contract is a DataError naming the file and
    the field at fault."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"invalid UTF-8 at byte {exc.start}", path=path) from None
    _require_keys(doc, [*_DOC_CHECKS, "metrics"], path, "")
    try:
        _check(doc, _DOC_CHECKS)  # the document's fields before its rows
        if not isinstance(doc["metrics"], list):
            raise ContractError(f"expected a list, got {type_name(doc['metrics'])}", "metrics")
        rows = []
        for i, row in enumerate(doc["metrics"]):
            where = f"metrics[{i}]."
            _require_keys(row, _ROW_CHECKS, path, where)
            try:
                rows.append(MetricRow(**row))
            except ContractError as err:
                raise ContractError(err.message, f"{where}{err.field}") from None
        return RunMetrics(doc["run"], doc["evaluator"], tuple(rows))
    except ContractError as err:
        raise DataError(err.message, path=path, field=err.field) from None
