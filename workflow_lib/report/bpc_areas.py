"""BPC against benchmark scores per area, as "Compression Represents Intelligence Linearly" fits
them (docs/methods.md §4.8).

An area pairs a corpus with benchmarks (`eval.bpc.areas`): each run's BPC on the corpus against
the weighted mean of its scores on the area's (benchmark, metric) pairs, fitted over the runs the
area does not exclude. With two areas or more that name their benchmarks, "overall" puts each
run's mean BPC over the areas' corpora against the mean of its area scores (the paper's overall
fit: the mean of its three area averages gives its r = -0.931 and RMSE 0.031). Without
configured areas, each corpus of `eval.bpc.corpora` is an area scored by the mean of every
higher-is-better lm-eval metric all runs have. Every fit is the least-squares line with
Pearson r and the RMSE of its residuals, the paper's "RMSE" (`tables.linear_fit`).

The paper's own points (Tables 4, 6 and 8 of arXiv 2404.09937v2) ship in
`data/compression_intelligence.csv`; an area with `paper: knowledge|coding|math` draws them,
and their fit, behind the runs (scores as fractions, as lm-eval reports them).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workflow_lib.core.errors import UserError
from workflow_lib.report.tables import (
    average_score,
    linear_fit,
    method_colors,
    no_data,
    panels,
)

PAPER_DATA = Path(__file__).resolve().parent / "data" / "compression_intelligence.csv"
PAPER_TABLES = {"knowledge": "Table 4", "coding": "Table 6", "math": "Table 8"}
OVERALL = "overall"
CORRELATION_COLUMNS = ["area", "corpus", "points", "n", "pearson_r", "rmse", "slope",
                       "intercept", "excluded", "benchmarks", "note"]


@dataclass(frozen=True)
class Benchmark:
    """One (benchmark, metric) of an area and its weight in the area's mean."""

    benchmark: str
    metric: str
    weight: float = 1.0

    @property
    def label(self) -> str:
        weight = "" if self.weight == 1 else f" ×{self.weight:g}"
        return f"{self.benchmark} ({self.metric}){weight}"


@dataclass(frozen=True)
class Area:
    """A corpus and the benchmarks scored against its BPC; no benchmarks: the mean of every
    higher-is-better lm-eval metric that all runs have. `exclude`: runs drawn but left out of
    the fit; `paper`: the paper's area ("knowledge", "coding", "math") drawn behind the runs."""

    name: str
    corpus: str
    benchmarks: tuple[Benchmark, ...] = ()
    exclude: frozenset[str] = frozenset()
    paper: str | None = None


def areas_from_config(bpc: Mapping) -> list[Area]:
    """The areas of a validated `eval.bpc` block (`areas`, else one per corpus of `corpora`)."""
    if not bpc["areas"]:
        return [Area(corpus, corpus) for corpus in bpc["corpora"]]
    return [Area(name, area["corpus"], tuple(Benchmark(**b) for b in area["benchmarks"]),
                 frozenset(area["exclude"]), area["paper"])
            for name, area in bpc["areas"].items()]


def _area_scores(metrics: pd.DataFrame, area: Area) -> tuple[pd.Series, str]:
    """Score per run (the weighted mean of the area's benchmarks) and what it is the mean of.
    Raises UserError naming a (benchmark, metric) that no run has or a run lacks."""
    if not area.benchmarks:
        score, keys = average_score(metrics)
        return score, ", ".join(keys) if keys else "no lm-eval metric common to all runs"
    scored = metrics[metrics.evaluator != "bpc"]
    wide = scored.pivot_table(index="run", columns=["benchmark", "metric"], values="value",
                              aggfunc="first", dropna=False)
    runs = list(dict.fromkeys(metrics.run))
    columns = []
    for b in area.benchmarks:
        if (b.benchmark, b.metric) not in wide.columns:
            have = ", ".join(f"{x} ({y})" for x, y in wide.columns[:30]) or "none"
            raise UserError(f"eval.bpc.areas.{area.name}: no run has {b.benchmark} "
                            f"({b.metric}); the metrics are: {have}")
        column = wide[(b.benchmark, b.metric)].reindex(runs)
        if column.isna().any():
            raise UserError(f"eval.bpc.areas.{area.name}: run {column.index[column.isna()][0]!r} "
                            f"has no value of {b.benchmark} ({b.metric})")
        columns.append(column * b.weight)
    weights = sum(b.weight for b in area.benchmarks)
    return sum(columns) / weights, ", ".join(b.label for b in area.benchmarks)


def _run_points(metrics: pd.DataFrame, corpus: str, score: pd.Series,
                exclude: frozenset[str]) -> pd.DataFrame:
    bpc = metrics[(metrics.evaluator == "bpc") & (metrics.benchmark == corpus)
                  & metrics.run.isin(score.index)]
    return pd.DataFrame({"x": bpc.value.to_numpy(), "y": score[bpc.run].to_numpy(),
                         "group": bpc.method.to_numpy(), "label": bpc.run.to_numpy(),
                         "excluded": bpc.run.isin(exclude).to_numpy()})


def read_paper_points(path: Path = PAPER_DATA) -> pd.DataFrame:
    """The paper's table rows: table, area, model, the benchmark scores, average (percent),
    bpc and excluded (bool)."""
    table = pd.read_csv(path, comment="#")
    return table.astype({"excluded": bool})


def paper_points(area: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's models of one area, or "overall" (the models of all three tables: mean BPC
    against the mean of the three averages, none excluded), as points x (BPC), y (fraction)."""
    table = read_paper_points() if table is None else table
    if area == OVERALL:
        bpc = table.pivot(index="model", columns="area", values="bpc").dropna()
        average = table.pivot(index="model", columns="area", values="average").loc[bpc.index]
        return pd.DataFrame({"x": bpc.mean(axis=1).to_numpy(),
                             "y": average.mean(axis=1).to_numpy() / 100,
                             "label": bpc.index.to_numpy(), "excluded": False})
    rows = table[table.area == area]
    return pd.DataFrame({"x": rows.bpc.to_numpy(), "y": rows.average.to_numpy() / 100,
                         "label": rows.model.to_numpy(), "excluded": rows.excluded.to_numpy()})


@dataclass(frozen=True)
class Panel:
    """One area's (or overall's) points: the runs', and the paper's when drawn."""

    area: str
    corpus: str
    benchmarks: str
    runs: pd.DataFrame
    paper: pd.DataFrame | None
    paper_source: str | None


def area_panels(metrics: pd.DataFrame, areas: list[Area]) -> list[Panel]:
    """A panel per area, then "overall" when two areas or more name their benchmarks."""
    result, scores = [], []
    for area in areas:
        score, what = _area_scores(metrics, area)
        scores.append(score)
        paper = None if area.paper is None else paper_points(area.paper)
        result.append(Panel(area.name, area.corpus, what,
                            _run_points(metrics, area.corpus, score, area.exclude), paper,
                            PAPER_TABLES.get(area.paper)))
    if len(areas) >= 2 and all(area.benchmarks for area in areas):
        corpora = list(dict.fromkeys(area.corpus for area in areas))
        bpc = metrics[metrics.evaluator == "bpc"].pivot(index="run", columns="benchmark",
                                                         values="value")
        mean_bpc = bpc.reindex(columns=corpora).dropna().mean(axis=1)
        score = pd.concat(scores, axis=1).dropna().mean(axis=1)
        both = [run for run in score.index if run in mean_bpc.index]
        runs = metrics.drop_duplicates("run").set_index("run").loc[both]
        points = pd.DataFrame({"x": mean_bpc[both].to_numpy(), "y": score[both].to_numpy(),
                               "group": runs.method.to_numpy(), "label": both,
                               "excluded": False})
        papers = {area.paper for area in areas}
        drawn = set(PAPER_TABLES) <= papers
        result.append(Panel(OVERALL, " + ".join(corpora),
                            "the area scores (" + ", ".join(a.name for a in areas) + ")",
                            points, paper_points(OVERALL) if drawn else None,
                            "Tables 4, 6, 8" if drawn else None))
    return result


def _fit_row(panel: Panel, points: pd.DataFrame, source: str) -> dict:
    kept = points[~points.excluded.astype(bool)]
    row = {"area": panel.area, "corpus": panel.corpus, "points": source, "n": len(kept),
           "excluded": ";".join(points.label[points.excluded.astype(bool)]),
           "benchmarks": panel.benchmarks if source == "runs" else panel.paper_source,
           "note": ""}
    try:
        fit = linear_fit(kept.x, kept.y)
    except ValueError as why:
        return {**row, "note": f"no fit: {why}"}
    return {**row, "pearson_r": fit.r, "rmse": fit.rmse, "slope": fit.slope,
            "intercept": fit.intercept}


def correlations(panels_: list[Panel]) -> pd.DataFrame:
    """A row per panel and kind of points ("runs", and "paper" where drawn): n, Pearson r,
    RMSE, slope, intercept, the excluded points, what the score averages, or why no fit."""
    rows = []
    for panel in panels_:
        rows.append(_fit_row(panel, panel.runs, "runs"))
        if panel.paper is not None:
            rows.append(_fit_row(panel, panel.paper, "paper"))
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)


def _draw_fit(ax: Axes, points: pd.DataFrame, **style) -> str:
    """The least-squares line over the points not excluded; its description, or why none."""
    kept = points[~points.excluded.astype(bool)]
    try:
        fit = linear_fit(kept.x, kept.y)
    except ValueError as why:
        return f"no fit: {why}"
    xs = np.array([points.x.min(), points.x.max()])
    ax.plot(xs, fit.slope * xs + fit.intercept, linewidth=1, **style)
    return f"r = {fit.r:.3f}, RMSE {fit.rmse:.3g} (n = {fit.n})"


def _draw_panel(ax: Axes, panel: Panel, colors: dict[str, str], max_labels: int = 20) -> None:
    if panel.paper is not None:
        paper = panel.paper
        kept = ~paper.excluded.astype(bool)
        ax.scatter(paper.x[kept], paper.y[kept], color="0.7", s=14, zorder=1,
                   label=f"paper, {panel.paper_source}")
        if (~kept).any():
            ax.scatter(paper.x[~kept], paper.y[~kept], facecolors="none", edgecolors="0.6",
                       s=14, zorder=1, label="paper, excluded from its fit")
        text = _draw_fit(ax, paper, color="0.5", linestyle="--")
        ax.plot([], [], color="0.5", linestyle="--", label=f"paper fit: {text}")
    runs = panel.runs
    for group in dict.fromkeys(runs.group):
        part = runs[runs.group == group]
        kept = ~part.excluded.astype(bool)
        ax.scatter(part.x[kept], part.y[kept], color=colors[group], label=group, zorder=3)
        ax.scatter(part.x[~kept], part.y[~kept], facecolors="none", edgecolors=colors[group],
                   zorder=3)
    if runs.excluded.any():
        ax.scatter([], [], facecolors="none", edgecolors="black", label="excluded from the fit")
    if len(runs) <= max_labels:
        for x, y, label in zip(runs.x, runs.y, runs.label, strict=True):
            ax.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6)
    text = _draw_fit(ax, runs, color="black") if len(runs) else "no runs with these metrics"
    ax.set_title(f"{panel.area}: {text}", fontsize=9)
    ax.set_xlabel(f"BPC on {panel.corpus} (lower is better)"
                  if panel.area != OVERALL else f"mean BPC on {panel.corpus}")
    ax.set_ylabel(textwrap.fill(f"score: mean of {panel.benchmarks}", 55), fontsize=7)
    ax.margins(x=0.15, y=0.1)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6)


def area_figure(metrics: pd.DataFrame, panels_: list[Panel]) -> Figure:
    """One panel per area (and overall): the runs coloured by method, excluded runs hollow,
    their least-squares line with Pearson r and RMSE; the paper's points and line in grey."""
    fig, axes = panels(len(panels_), "Compression against intelligence: BPC and benchmark "
                                     "score per area (least squares, Pearson r)")
    if not panels_:
        no_data(axes[0], "no BPC metrics (eval.bpc.corpora is empty)")
    colors = method_colors(metrics)
    for ax, panel in zip(axes, panels_, strict=False):
        _draw_panel(ax, panel, colors)
    return fig
