"""One selection job of rule `select`: read the pool, call the method's kind through the
registry, write the selection files."""

from __future__ import annotations

import logging
import os
import time

from workflow_lib.core.manifest import file_sha256
from workflow_lib.data.records import read_pool
from workflow_lib.scoring.shards import read_scores
from workflow_lib.select.budget import Budget
from workflow_lib.select.output import write_selection
from workflow_lib.select.registry import selection_kind
from workflow_lib.select.request import Selected, SelectionRequest

log = logging.getLogger(__name__)


def run_selection(*, pool_path: str | os.PathLike, pool: str, method_name: str, method: dict,
                  budget: Budget, data_path: str | os.PathLike,
                  manifest_path: str | os.PathLike, scores_path: str | os.PathLike | None = None,
                  scorer: dict | None = None, device: str | None = None,
                  threads: int = 1) -> None:
    """Select from the validated pool at `pool_path` with `method` (its config, kind included)
    and write data.jsonl and the manifest (with the kind's registry version; for a kind that
    reads IFD scores, the scorer and the scores' sha256 too). A selection of another size than
    the budget asked for is warned about (`size_warning`), in the log and at the end of the run
    (core.jobs); the manifest has both sizes, `requested` and `selected`."""
    started = time.perf_counter()
    kind = selection_kind(method["kind"])
    records = list(read_pool(pool_path))
    scored = {}
    if kind.scorer_preset is not None:
        scored = {"scorer": scorer, "scores_sha256": file_sha256(scores_path)}
    request = SelectionRequest(
        records=records, budget=budget, rounding=kind.rounding, params=method,
        pool_path=str(pool_path), device=device or "cpu", threads=threads,
        scores=read_scores(scores_path, records) if scored else None, scorer=scorer)
    selected = kind.load()(request)
    requested = request.count() if selected.requested is None else selected.requested
    if len(selected.indices) != requested:
        log.warning(size_warning(selected, requested, budget))
    write_selection(data_path, manifest_path, pool_path=pool_path, records=records,
                    indices=selected.indices, method=method_name, params=method, pool=pool,
                    budget=budget.value, requested=requested, started=started,
                    method_version=kind.version,
                    **scored, **selected.details)


def size_warning(selected: Selected, requested: int, budget: Budget) -> str:
    """One line: how many records were selected, how many the budget asked for, and why."""
    why = f": {selected.note}" if selected.note else ""
    return (f"selected {len(selected.indices)} records, budget {budget.label} asks for "
            f"{requested}{why}")
