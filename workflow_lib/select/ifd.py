"""Selections from IFD scores: Superfiltering, Cherry and Superfiltering.D (docs/methods.md §2).

`rows` are the scorer's rows (`ifd.score_records`) aligned with the pool's records. Records
with a `reason` were not scored and are counted per reason in the returned info.

superfiltering (select_data.py): keep IFD < threshold (NaN fails), Python's stable sort by IFD
  descending (ties keep pool order), first k. A fraction budget is of the *pool* (the reference
  hard-codes `int(52002 * rate)`, Alpaca's size; here the pool's own size).
cherry (data_by_IFD.py): drop IFD > threshold (so == is kept), `k = int(len(kept) * rate)` for a
  fraction (of the *kept* list), sort `(ifd, index)` ascending and take the last k (ties: the
  larger index wins), output in *pool order*. The reference's `[-0:]` selects every kept record
  when k rounds to 0; here that fraction is a BudgetError (it gives no record).
superfiltering_d (do_fla.py): keep IFD < threshold, top `ifd_num` by IFD (count or fraction of
  the pool), embed `instruction + "\\n" + input + "\\n" + output` (the input's newline is there
  even when the input is empty; `sentence_embeddings`: cut at 512 tokens as do_fla.py does),
  facility location to the budget (`facility_location`: ties as submodlib's lazy greedy), output
  in greedy order.
An integer budget is a count in every method (larger than the pool: BudgetError); "all" keeps
every record that passes the filter; a fraction is rounded by the kind's `Rounding` (TRUNCATE,
the references' `int()`), and one that gives no record is a BudgetError.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from workflow_lib.core.threads import set_threads
from workflow_lib.models.embeddings import embed_texts
from workflow_lib.scoring.ifd import ifd_fields
from workflow_lib.scoring.presets import Preset, preset
from workflow_lib.select.budget import Budget, Rounding
from workflow_lib.select.facility_location import euclidean_similarity, facility_location_greedy
from workflow_lib.select.request import Selected, SelectionRequest


def _filter(rows: Sequence[dict], threshold: float, keep_equal: bool) -> tuple[list[int], dict]:
    """Indices of rows that pass the IFD filter, and the counts of what was dropped and why."""
    failed = Counter(row["reason"] for row in rows if row["reason"] is not None)
    scored = [i for i, row in enumerate(rows) if row["reason"] is None]
    kept = [i for i in scored
            if rows[i]["ifd"] < threshold or (keep_equal and rows[i]["ifd"] == threshold)]
    info = {
        "n_pool": len(rows),
        "n_scored": len(scored),
        "dropped_unscored": dict(sorted(failed.items())),
        "dropped_above_threshold": len(scored) - len(kept),
        "threshold": threshold,
        "keep_equal": keep_equal,
        "n_kept": len(kept),
    }
    return kept, info


def top_ifd(rows: Sequence[dict], kept: Sequence[int], k: int) -> list[int]:
    """The first k of `kept` after a stable sort by IFD, highest first (ties keep pool order)."""
    return sorted(kept, key=lambda i: rows[i]["ifd"], reverse=True)[:k]


def select_ifd(rows: Sequence[dict], p: Preset, budget: Budget, rounding: Rounding,
               threshold: float = 1.0) -> tuple[list[int], dict]:
    """Superfiltering or Cherry selection (by the preset's filter, k rule and order): pool
    indices in output order, and what was kept and dropped."""
    kept, info = _filter(rows, threshold, p.keep_equal)
    of = len(rows) if p.budget_of == "pool" else len(kept)
    requested = budget.count(len(rows), rounding, of=of)
    k = min(requested, len(kept))
    if p.order == "ifd_desc":
        chosen = top_ifd(rows, kept, k)
    else:
        ranked = sorted((rows[i]["ifd"], i) for i in kept)
        chosen = sorted(i for _, i in ranked[len(ranked) - k :])
    return chosen, {**info, "budget_of": p.budget_of, "order": p.order, "requested": requested,
                    "k": k, **_ifd_range(rows, chosen)}


def diversity_text(record: dict) -> str:
    """Superfiltering.D's embedding text: instruction, input and output joined by newlines."""
    instruction, input_, output = ifd_fields(record)
    return f"{instruction}\n{input_}\n{output}"


def select_superfiltering_d(
    records: Sequence[dict],
    rows: Sequence[dict],
    budget: Budget,
    rounding: Rounding,
    ifd_num: int | float,
    embed: Callable[[list[str]], np.ndarray],
    threshold: float = 1.0,
    progress: bool = False,
) -> tuple[list[int], dict]:
    """Top `ifd_num` by IFD (IFD < threshold; a fraction of the pool under `rounding`), then
    facility location on `embed(texts)` to the budget; pool indices in greedy order."""
    requested = budget.count(len(rows), rounding)
    kept, info = _filter(rows, threshold, keep_equal=False)
    n_top = ifd_num if isinstance(ifd_num, int) else rounding.apply(ifd_num, len(rows))
    top = top_ifd(rows, kept, min(n_top, len(kept)))
    k = min(requested, len(top))
    chosen: list[int] = []
    gains: list[float] = []
    if top:
        vectors = np.asarray(embed([diversity_text(records[i]) for i in top]))
        picked, gains = facility_location_greedy(euclidean_similarity(vectors), k,
                                                 progress=progress)
        chosen = [top[j] for j in picked]
    return chosen, {**info, "n_top_ifd": len(top), "requested": requested, "k": k,
                    "facility_location_gain": math.fsum(gains), **_ifd_range(rows, chosen)}


def ifd_selection(request: SelectionRequest) -> Selected:
    """Superfiltering or Cherry (kinds `superfiltering`, `cherry`) by the preset of the scorer
    whose rows the request holds."""
    p = preset(request.scorer["preset"], request.scorer["max_length"])
    indices, info = select_ifd(request.scores, p, request.budget, request.rounding,
                               request.params["threshold"])
    note = f"{info['n_kept']} records pass the IFD filter (threshold {info['threshold']})"
    return Selected(indices, {"ifd": info}, requested=info["requested"], note=note)


def superfiltering_d_selection(request: SelectionRequest) -> Selected:
    """Superfiltering.D (kind `superfiltering_d`), embedding on the request's device."""
    set_threads(request.threads)
    params = request.params
    embed = partial(embed_texts, batch_size=params["embedding_batch_size"],
                    device=request.device, progress=True)
    indices, info = select_superfiltering_d(request.records, request.scores, request.budget,
                                            request.rounding, params["ifd_num"], embed,
                                            params["threshold"], progress=True)
    note = (f"{info['n_top_ifd']} candidates pass the IFD filter (threshold "
            f"{info['threshold']}) and ifd_num")
    return Selected(indices, {"ifd": info}, requested=info["requested"], note=note)


def _ifd_range(rows: Sequence[dict], chosen: Sequence[int]) -> dict:
    """Lowest and highest IFD of the selected records (None when none is selected)."""
    values = [rows[i]["ifd"] for i in chosen]
    return {"ifd_min": min(values, default=None), "ifd_max": max(values, default=None)}
