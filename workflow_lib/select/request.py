"""The common signature of selection functions: each kind of the registry that selects from a
file is called with a `SelectionRequest` and returns what it `Selected`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workflow_lib.select.budget import Budget, Rounding


@dataclass(frozen=True)
class SelectionRequest:
    """One selection to make: the validated pool, the budget and the method's settings."""

    records: Sequence[dict]  # the pool's canonical records, in file order
    budget: Budget
    rounding: Rounding  # the kind's rule for a fractional budget (its registry entry)
    params: dict  # the method's configuration: kind and parameters, defaults filled in
    pool_path: str = ""
    scores: Sequence[dict] | None = None  # IFD score rows aligned with `records` (scorer kinds)
    scorer: dict | None = None  # that scorer's configuration and `name`
    device: str = "cpu"  # torch device, for kinds that run a model
    threads: int = 1

    def count(self, of: int | None = None) -> int:
        """Records the budget asks for: a fraction is of `of` records (default: the pool)."""
        return self.budget.count(len(self.records), self.rounding, of=of)


@dataclass(frozen=True)
class Selected:
    """What a selection function chose: pool indices in output order, and details the kind adds
    to the selection's manifest (e.g. `{"zip": {...}}`). `requested` is the number of records
    the budget asked for when it is not `SelectionRequest.count()` (Cherry: a fraction of the
    records its filter kept); `note` says why the selection may have another size (ZIP rounding
    up to whole rounds, a filter keeping fewer records), for the warning when it has."""

    indices: list[int]
    details: dict = field(default_factory=dict)
    requested: int | None = None
    note: str = ""
