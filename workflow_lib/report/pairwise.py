"""The pairwise judging figure, as in the Superfiltering paper: per (run, reference) pair one
panel of horizontal bars, one per test set, stacked by the questions the run won, tied and lost
against its reference (and failed to judge, when any), from the tidy metrics table
(`pairwise_vs_{reference}/{set}` rows; docs/metrics-contract.md)."""

from __future__ import annotations

import textwrap

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from workflow_lib.report.tables import no_data

SEGMENTS = {"win": ("win", "#4c72b0"), "tie": ("tie", "#c7c7c7"),
            "lose": ("lose", "#dd8452"), "failed": ("failed to judge", "#ffffff")}
STAND_IN_NOTE = "stand-in judge (not a quality judgment)"
PREFIX = "pairwise_vs_"


def pairwise_counts(metrics: pd.DataFrame) -> pd.DataFrame:
    """Columns run, reference, set, win, tie, lose, failed, one row per pair and test set, in
    the order of the table."""
    rows = metrics[(metrics.evaluator == "pairwise") & metrics.benchmark.str.contains("/")
                   & metrics.metric.isin(list(SEGMENTS))]
    parts = rows.benchmark.str.removeprefix(PREFIX).str.split("/", n=1)
    keyed = rows.assign(reference=parts.str[0], set=parts.str[1])
    wide = keyed.pivot_table(index=["run", "reference", "set"], columns="metric", values="value",
                             sort=False)
    return wide.reindex(columns=list(SEGMENTS)).fillna(0).astype(int).reset_index()


def _winning_scores(metrics: pd.DataFrame) -> dict[tuple[str, str], float]:
    rows = metrics[(metrics.evaluator == "pairwise") & (metrics.metric == "winning_score")
                   & ~metrics.benchmark.str.contains("/")]
    return {(run, benchmark.removeprefix(PREFIX)): value
            for run, benchmark, value in zip(rows.run, rows.benchmark, rows.value, strict=True)}


def pairwise_figure(metrics: pd.DataFrame, judge_model: str, stand_in: bool) -> Figure:
    """One panel per (run, reference) pair: win / tie / lose (/ failed) counts of the run per
    test set, stacked horizontally, and the winning score over all sets in the panel's title.
    `stand_in` (the local stand-in judge) is stated in the figure's title."""
    counts = pairwise_counts(metrics)
    scores = _winning_scores(metrics)
    pairs = list(dict.fromkeys(zip(counts.run, counts.reference, strict=True)))
    sets = list(dict.fromkeys(counts.set))
    fig = Figure(figsize=(7.5, 0.9 + (0.45 * len(sets) + 0.8) * max(len(pairs), 1)),
                 layout="constrained")
    judge = STAND_IN_NOTE if stand_in else f"judge {judge_model}"
    fig.suptitle(f"Pairwise judging, both orders: run (A) against its reference (B); {judge}",
                 fontsize=9, color="firebrick" if stand_in else "black")
    axes = fig.subplots(max(len(pairs), 1), 1, squeeze=False)[:, 0]
    if not pairs:
        no_data(axes[0], "no pairwise metrics (eval.pairwise is off or judged nothing)")
    for ax, (run, reference) in zip(axes, pairs, strict=False):
        part = counts[(counts.run == run) & (counts.reference == reference)].set_index("set")
        part = part.reindex([s for s in sets if s in part.index])
        left = pd.Series(0, index=part.index)
        for key, (label, color) in SEGMENTS.items():
            if key == "failed" and not part[key].any():
                continue
            bars = ax.barh(part.index, part[key], left=left, color=color, edgecolor="black",
                           linewidth=0.5, label=label)
            ax.bar_label(bars, labels=[str(v) if v else "" for v in part[key]],
                         label_type="center", fontsize=7)
            left = left + part[key]
        ax.invert_yaxis()  # the first set on top
        score = scores.get((run, reference))
        title = f"{run} vs {reference}" + (f": winning score {score:.3f}" if score is not None
                                           else "")
        ax.set_title(textwrap.fill(title, 90), fontsize=8)
        ax.set_xlabel("questions")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig
