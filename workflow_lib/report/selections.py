"""How the selections of one pool differ, from the selection manifests, the pool and the IFD
score files alone (no training or evaluation needed).

* Overlap: the Jaccard index |A ∩ B| / |A ∪ B| of the selected ids of every two methods at the
  same budget (a set: ZIP may pick a record twice, quirk Q5).
* Rank agreement: Spearman's rho between the orderings the methods put on the pool, computed over
  the records that both order. An ordering is a score per record id, higher first; which one a
  kind contributes is its registry entry's `ranks_by`:
  - IFD scores, one ordering per scorer a selection read (superfiltering and cherry rank the pool
    by them): every scored record, the IFD >= 1 records that the methods then drop included;
  - response length (`longest`): every record, in the method's unit;
  - pick order (zip, superfiltering_d and any kind that does not say otherwise, whose order is
    built while selecting, not a score of the pool): only the records picked at the method's
    largest budget, the first pick highest. A pair with a pick order is thus an agreement within
    those picks.
  `random` and `full` order nothing.
* Distributions: response length and source mix of each selection, beside the pool's.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import PercentFormatter

from workflow_lib.core.jsonio import DataError
from workflow_lib.report.rank_stats import spearman
from workflow_lib.report.tables import no_data
from workflow_lib.select.baselines import response_length
from workflow_lib.select.registry import KINDS

MIN_COMMON = 3  # records two orderings must share for a rank correlation


@dataclass(frozen=True)
class Chosen:
    """One selection file of a pool: its method (name and kind), budget and picked ids in order
    (repeats kept: they are trained on twice), the IFD scorer or length unit it ranks by, and the
    manifest it was read from."""

    method: str
    kind: str
    budget: str
    ids: tuple[str, ...]
    scorer: str | None = None
    length_unit: str = "chars"
    manifest: str = ""

    @property
    def label(self) -> str:
        return f"{self.method} @ {self.budget}"


def read_chosen(manifests: Iterable[str | os.PathLike]) -> dict[str, list[Chosen]]:
    """The selections of each pool (in manifest order) from their manifests."""
    pools: dict[str, list[Chosen]] = {}
    for path in manifests:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
        try:
            params = manifest["params"]
            chosen = Chosen(manifest["method"], params["kind"], str(manifest["budget"]),
                            tuple(manifest["selected_ids"]),
                            manifest.get("scorer", {}).get("name"),
                            params.get("length", "chars"), str(path))
        except KeyError as key:
            raise DataError("missing; rerun the selection", path=path, field=key.args[0]) from None
        pools.setdefault(manifest["pool"], []).append(chosen)
    return pools


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / |A ∪ B| of the two id sets; NaN when both are empty."""
    a, b = set(a), set(b)
    union = len(a | b)
    return len(a & b) / union if union else math.nan


@dataclass(frozen=True)
class PairMatrix:
    """A symmetric statistic of every two items (`value`), with a count per pair (`n`)."""

    value: pd.DataFrame
    n: pd.DataFrame


def overlap(chosen: Sequence[Chosen]) -> dict[str, PairMatrix]:
    """Per budget with at least two selections: Jaccard index and shared records of each pair."""
    budgets: dict[str, list[Chosen]] = {}
    for c in chosen:
        budgets.setdefault(c.budget, []).append(c)
    matrices = {}
    for budget, group in budgets.items():
        if len(group) < 2:
            continue
        labels = [c.method for c in group]
        sets = [set(c.ids) for c in group]
        matrices[budget] = PairMatrix(
            pd.DataFrame([[jaccard(a, b) for b in sets] for a in sets], labels, labels),
            pd.DataFrame([[len(a & b) for b in sets] for a in sets], labels, labels))
    return matrices


def _ranks_by(c: Chosen) -> str:
    """The kind's `ranks_by` (a kind no longer registered: its pick order)."""
    kind = KINDS.get(c.kind)
    return kind.ranks_by if kind is not None else "picks"


def orderings(chosen: Sequence[Chosen], records: Sequence[dict],
              scores: Mapping[str, Sequence[dict]]) -> dict[str, pd.Series]:
    """The orderings the pool's selection methods define (module docstring), each a score per
    record id, higher first. `scores` holds the score rows (id, ifd, reason) of each scorer."""
    found: dict[str, pd.Series] = {}
    for c in chosen:
        if c.scorer is not None and c.scorer not in scores:
            raise ValueError(f"{c.label} ranks by the IFD scores of {c.scorer!r}, which are "
                             f"missing (given: {', '.join(scores) or 'none'})")
    for scorer in dict.fromkeys(c.scorer for c in chosen if c.scorer is not None):
        rows = [r for r in scores[scorer] if r["reason"] is None and r["ifd"] is not None]
        found[f"IFD ({scorer})"] = pd.Series([r["ifd"] for r in rows], [r["id"] for r in rows],
                                             dtype=float)
    ids = [r["id"] for r in records]
    for unit in dict.fromkeys(c.length_unit for c in chosen if _ranks_by(c) == "length"):
        found[f"response {unit}"] = pd.Series([response_length(r, unit) for r in records], ids,
                                              dtype=float)
    ordered = [c for c in chosen if _ranks_by(c) == "picks"]
    for method in dict.fromkeys(c.method for c in ordered):
        c = max((c for c in ordered if c.method == method), key=lambda c: len(set(c.ids)))
        picks = list(dict.fromkeys(c.ids))
        found[f"{c.method} pick order ({c.budget})"] = pd.Series(
            np.arange(len(picks), 0, -1, dtype=float), picks)
    return found


def rank_agreement(found: Mapping[str, pd.Series]) -> PairMatrix:
    """Spearman's rho of every two orderings over the ids both score (NaN with fewer than
    `MIN_COMMON`, or when one of them is constant there), and how many ids that is."""
    labels = list(found)
    rho = pd.DataFrame(np.eye(len(labels)), labels, labels)
    n = pd.DataFrame([[len(found[a].dropna())] * len(labels) for a in labels], labels, labels)
    for a, b in combinations(labels, 2):
        both = pd.concat([found[a], found[b]], axis=1, join="inner").dropna()
        value = math.nan
        if len(both) >= MIN_COMMON and both.nunique().min() > 1:
            value = spearman(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
        rho.loc[a, b] = rho.loc[b, a] = value
        n.loc[a, b] = n.loc[b, a] = len(both)
    return PairMatrix(rho, n)


def distributions(chosen: Sequence[Chosen], records: Sequence[dict], max_sources: int = 12
                  ) -> tuple[dict[str, list[int]], pd.DataFrame]:
    """Response lengths (characters) of the pool and of each selection, and the share of each
    source in them (rows in the same order; columns by descending share in the pool, beyond
    `max_sources` the smallest summed as "other")."""
    by_id = {r["id"]: r for r in records}
    groups = {f"pool ({len(records)})": records}
    for c in chosen:
        try:
            groups[f"{c.label} ({len(c.ids)})"] = [by_id[i] for i in c.ids]
        except KeyError as key:
            raise DataError(f"selected {key.args[0]!r}, which is not in the pool; rerun the "
                            "selection", path=c.manifest) from None
    lengths = {name: [response_length(r) for r in rs] for name, rs in groups.items()}
    counts = pd.DataFrame([Counter(r["source"] for r in rs) for rs in groups.values()],
                          index=list(groups)).fillna(0)
    counts = counts[counts.iloc[0].sort_values(ascending=False, kind="stable").index]
    if counts.shape[1] > max_sources:
        rest = counts.columns[max_sources - 1:]
        counts = counts.drop(columns=rest).assign(other=counts[rest].sum(axis=1))
    return lengths, counts.div(counts.sum(axis=1), axis=0)


def _cell_color(image: AxesImage, value: float) -> str:
    """Black or white, whichever reads better on the cell's colour."""
    if math.isnan(value):
        return "black"
    red, green, blue, _ = image.cmap(image.norm(value))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _heatmap(ax: Axes, matrix: PairMatrix, cmap: str, limits: tuple[float, float],
             cell: Callable[[float, int], str]) -> AxesImage:
    """The matrix as coloured cells (NaN grey), each labelled `cell(value, n)`."""
    values = matrix.value.to_numpy(dtype=float)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="lightgrey")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, vmin=limits[0],
                      vmax=limits[1])
    labels = list(matrix.value.index)
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.tick_params(length=0)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, cell(value, int(matrix.n.iat[i, j])), ha="center", va="center",
                fontsize=7, color=_cell_color(image, value))
    return image


def _message(text: str) -> Figure:
    fig = Figure(figsize=(6, 2), layout="constrained")
    no_data(fig.subplots(), text)
    return fig


def overlap_figure(matrices: Mapping[str, PairMatrix], pool: str) -> Figure:
    """A Jaccard heat map per budget, cells labelled with the index and the shared records."""
    if not matrices:
        return _message(f"{pool}: no budget has two selections to compare")
    size = max(len(m.value) for m in matrices.values())
    cols = min(3, len(matrices))
    rows = math.ceil(len(matrices) / cols)
    side = 1.6 + 0.6 * size
    fig = Figure(figsize=(side * cols + 1.2, side * rows + 0.6), layout="constrained")
    fig.suptitle(f"{pool}: overlap of the selections at each budget\n"
                 "cell: Jaccard index (records in common)", fontsize=10)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (budget, matrix) in zip(axes, matrices.items(), strict=False):
        image = _heatmap(ax, matrix, "viridis", (0, 1), lambda v, n: f"{v:.2f}\n({n})")
        ax.set_title(f"budget {budget}", fontsize=9)
    for ax in axes[len(matrices):]:
        ax.set_axis_off()
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="Jaccard index |A ∩ B| / |A ∪ B|")
    return fig


def rank_figure(matrix: PairMatrix, pool: str) -> Figure:
    """A heat map of Spearman's rho between the orderings, cells labelled with rho and the
    number of records both order (grey: too few, or one ordering constant on them)."""
    if len(matrix.value) < 2:
        return _message(f"{pool}: fewer than two methods order the pool "
                        "(random and full order nothing)")
    side = 2.2 + 0.75 * len(matrix.value)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.subplots()

    def cell(value: float, n: int) -> str:
        return f"n={n}\nno ρ" if math.isnan(value) else f"{value:+.2f}\nn={n}"

    image = _heatmap(ax, matrix, "RdBu", (-1, 1), cell)
    ax.set_title(f"{pool}: rank agreement of the methods' orderings\n"
                 "Spearman ρ over the records both order (n)", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Spearman ρ")
    return fig


def distribution_figure(lengths: Mapping[str, Sequence[int]], shares: pd.DataFrame,
                        pool: str) -> Figure:
    """Box plots of response length and stacked bars of the source mix, one row per
    selection under the pool's."""
    rows = list(lengths)
    fig = Figure(figsize=(12, 1.6 + 0.4 * len(rows)), layout="constrained")
    fig.suptitle(f"{pool}: what each selection contains (rows: method @ budget (records))",
                 fontsize=10)
    left, right = fig.subplots(1, 2, sharey=True)
    positions = np.arange(len(rows))
    left.boxplot([lengths[r] for r in rows], positions=positions, orientation="horizontal",
                 showmeans=True, widths=0.6, flierprops={"markersize": 2})
    left.set_yticks(positions, rows, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("response length (characters; box: quartiles, triangle: mean)")
    left.grid(axis="x", alpha=0.3)
    start = np.zeros(len(rows))
    for i, source in enumerate(shares.columns):
        share = shares[source].to_numpy()
        right.barh(positions, share, left=start, height=0.6, color=f"C{i % 10}", label=source)
        for y, (x, w) in enumerate(zip(start, share, strict=True)):
            if w >= 0.08:
                right.text(x + w / 2, y, f"{w:.0%}", ha="center", va="center", fontsize=7,
                           color="white")
        start += share
    for ax in (left, right):
        ax.axhline(0.5, color="grey", linewidth=0.8)  # the pool above, its selections below
    right.set_xlim(0, 1)
    right.xaxis.set_major_formatter(PercentFormatter(1))
    right.set_xlabel("source mix (share of records)")
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="source",
                 title_fontsize=8)
    return fig
