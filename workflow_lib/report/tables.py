"""Results tables and plots from the evaluators' metrics and the selection manifests.

`collect_metrics` stacks the runs' metrics files (read through the metrics contract,
`workflow_lib.evaluate.metrics`) into the tidy table (`METRIC_COLUMNS`); a base run (the base
model as it is) has method "base" and pool and budget "-". `main_table` is the paper table. The
Entropy-Law plot puts the average benchmark score against ZIP's compression ratio of the selected
data and against the first-epoch training loss; `linear_fit` and the panel helpers also serve the
per-area BPC plot (`bpc_areas`). Equal inputs give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workflow_lib.config.grid import Run
from workflow_lib.core.jsonio import DataError, atomic_output
from workflow_lib.evaluate.metrics import read_metrics
from workflow_lib.evaluate.registry import EVALUATORS
from workflow_lib.report.costs import COST_COLUMNS
from workflow_lib.report.training import training_table

RUN_COLUMNS = ["pool", "method", "budget", "base_model"]
METRIC_COLUMNS = ["run", *RUN_COLUMNS, "evaluator", "benchmark", "metric", "value", "stderr",
                  "n", "higher_is_better"]
# In the paper table, `selected` (records) as `size`.
STAT_COLUMNS = ["selected", "mean response chars", "compression ratio", "ZIP compression ratio"]
SELECTION_COLUMNS = ["requested", "selected", "mean turns", "mean response chars",
                     "mean conversation chars", "compression ratio", "ZIP compression ratio",
                     "source mix"]
DIGITS = {"mean turns": 2, "mean response chars": 1, "mean conversation chars": 1,
          "compression ratio": 3, "ZIP compression ratio": 3, "mean tokens": 1,
          "first-epoch loss": 4, **dict.fromkeys(COST_COLUMNS, 2)}  # decimals; others: `digits`
_TEXT_COLUMNS = ["run", *RUN_COLUMNS, "evaluator", "benchmark", "metric"]
_CELL = ["pool", "method", "budget"]


def run_info(run: Run) -> dict[str, str]:
    """Pool, method, budget and base model of a run; a base run has "-", "base", "-"."""
    cell = run.selection
    if cell is None:
        return {"pool": "-", "method": "base", "budget": "-", "base_model": run.base_model}
    return {"pool": cell.pool, "method": cell.method, "budget": cell.budget,
            "base_model": run.base_model}


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    return table.astype({**dict.fromkeys(_TEXT_COLUMNS, object), "value": float,
                         "stderr": float, "n": "Int64", "higher_is_better": bool})


def collect_metrics(paths: Iterable[str | os.PathLike], runs: Iterable[Run]) -> pd.DataFrame:
    """The tidy table (`METRIC_COLUMNS`) of the given metrics.json files, rows in file order."""
    info = {run.name: run_info(run) for run in runs}
    rows, sources = [], {}
    for path in paths:
        doc = read_metrics(path)
        if doc.run not in info:
            raise DataError(f"{doc.run!r} is not a run of this configuration", path=path,
                            field="run")
        key = (doc.run, doc.evaluator)
        if key in sources:
            raise DataError(f"{doc.evaluator} metrics of run {doc.run!r} also come from "
                            f"{sources[key]}", path=path)
        sources[key] = path
        rows += [{"run": doc.run, **info[doc.run], "evaluator": doc.evaluator, **asdict(row)}
                 for row in doc.rows]
    return _typed(pd.DataFrame(rows, columns=METRIC_COLUMNS))


def read_metrics_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read the tidy table written by `write_table(collect_metrics(...), path)`."""
    table = pd.read_csv(path, dtype={**dict.fromkeys(_TEXT_COLUMNS, str), "n": "Int64"},
                        keep_default_na=False,
                        na_values={"value": [""], "stderr": [""], "n": [""]})
    return _typed(table)


def source_mix(counts: dict[str, int]) -> str:
    """Sources by descending count as `name share%`, e.g. "alpaca 75%, dolly 25%"."""
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {count / total:.0%}" for name, count in ranked)


def selection_table(manifests: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Pool, method, budget and the statistics (`SELECTION_COLUMNS`: the records the budget
    requested and those selected first) of each selection manifest, and the manifest's path.
    `requested` and `ZIP compression ratio` are missing ("-") for a manifest written before it
    had the field."""
    rows = []
    for path in manifests:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
        stats = manifest["stats"]
        rows.append({"pool": manifest["pool"], "method": manifest["method"],
                     "budget": str(manifest["budget"]), "requested": manifest.get("requested"),
                     "selected": stats["n_records"],
                     "mean turns": stats["n_turns_mean"],
                     "mean response chars": stats["response_chars_mean"],
                     "mean conversation chars": stats["conversation_chars_mean"],
                     "compression ratio": stats["compression_ratio"],
                     "ZIP compression ratio": stats.get("zip_compression_ratio"),
                     "source mix": source_mix(stats["source_mix"]), "manifest": str(path)})
    table = pd.DataFrame(rows, columns=[*_CELL, *SELECTION_COLUMNS, "manifest"])
    return table.astype({"requested": "Int64", "ZIP compression ratio": float})


def _key(benchmark: str, metric: str) -> str:
    return f"{benchmark} ({metric})"


REHEARSAL = "REHEARSAL"  # first column of a rehearsal's paper table
STAND_IN = "[stand-in judge]"  # marks the columns of an evaluator judged by the stand-in


def main_table(metrics: pd.DataFrame, selections: pd.DataFrame,
               stand_in: Iterable[str] = (), rehearsal: str | None = None,
               training: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper table: a row per run, grouped by (pool, budget, base model) in order of first
    appearance with methods in config order; the selection's statistics; the fine-tune's
    `TRAINING_COLUMNS` (`training`: `report.training.training_table`; missing for a base run or
    when not given); then one column per benchmark metric, `benchmark (metric) ↑` (higher is
    better) or `↓` (of an evaluator that names its `paper_metrics`, only those), followed by
    `[stand-in judge]` for the evaluators `stand_in` names (judged by the local stand-in: not a
    quality judgment). A rehearsal's table (`rehearsal`: what its column says,
    `config.rehearsal.rehearsal_label`) starts with a `REHEARSAL` column on every row, so that
    no copy of it passes for results."""
    metrics = metrics[[EVALUATORS[ev].in_paper(b, m) for ev, b, m
                       in zip(metrics.evaluator, metrics.benchmark, metrics.metric, strict=True)]]
    stand_in = set(stand_in)
    columns = [f"{_key(b, m)} {'↑' if up else '↓'}{f' {STAND_IN}' if ev in stand_in else ''}"
               for ev, b, m, up in zip(metrics.evaluator, metrics.benchmark, metrics.metric,
                                       metrics.higher_is_better, strict=True)]
    labelled = metrics.assign(column=columns)
    clash = labelled[labelled.duplicated(["run", "column"], keep=False)]
    if len(clash):
        raise ValueError(f"{clash.column.iloc[0]} of run {clash.run.iloc[0]!r} comes from "
                         f"several evaluators: {', '.join(clash.evaluator)}")
    runs = labelled.drop_duplicates("run")[["run", *RUN_COLUMNS]]
    groups = list(zip(runs.pool, runs.budget, runs.base_model, strict=True))
    order = {group: i for i, group in enumerate(dict.fromkeys(groups))}
    runs = runs.assign(group=[order[g] for g in groups]).sort_values("group", kind="stable")
    values = labelled.pivot(index="run", columns="column", values="value")
    table = (runs.drop(columns="group")
             .merge(selections[[*_CELL, *STAT_COLUMNS]].rename(columns={"selected": "size"}),
                    on=_CELL, how="left")
             .merge(training if training is not None else training_table([]), on="run",
                    how="left")
             .merge(values[list(dict.fromkeys(columns))], left_on="run", right_index=True,
                    how="left"))
    table["size"] = table["size"].astype("Int64")
    table = table.drop(columns="run").rename(columns={"base_model": "base model"})
    if rehearsal:
        table.insert(0, REHEARSAL, rehearsal)
    return table


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def formatted(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Cells as text: floats to `digits` decimals (`DIGITS` per column), missing as "-"."""
    def cell(value: object, places: int) -> str:
        if pd.isna(value):
            return "-"
        return f"{value:.{places}f}" if isinstance(value, float) else str(value)

    return pd.DataFrame({c: [cell(v, DIGITS.get(c, digits)) for v in table[c]]
                         for c in table.columns}, dtype=object)


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """GitHub Markdown, numbers right-aligned."""
    align = ["right" if _numeric(table[c]) else "left" for c in table.columns]
    text = formatted(table, digits).to_markdown(index=False, disable_numparse=True,
                                                colalign=align)
    return text + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "↑": r"$\uparrow$", "↓": r"$\downarrow$"}


def _latex_row(cells: Iterable[str]) -> str:
    return " & ".join("".join(_LATEX.get(ch, ch) for ch in c) for c in cells) + r" \\"


def to_latex(table: pd.DataFrame, digits: int = 4) -> str:
    """A booktabs `tabular` (needs \\usepackage{booktabs}), numbers right-aligned."""
    align = "".join("r" if _numeric(table[c]) else "l" for c in table.columns)
    body = [_latex_row(row) for row in formatted(table, digits).itertuples(index=False)]
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", _latex_row(table.columns),
             r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write `table` atomically as CSV (full precision), Markdown or LaTeX, by file suffix."""
    suffix = Path(path).suffix
    if suffix not in (".csv", ".md", ".tex"):
        raise ValueError(f"{path}: expected a .csv, .md or .tex file")
    with atomic_output(path) as fh:
        if suffix == ".csv":
            table.to_csv(fh, index=False, lineterminator="\n")
        else:
            fh.write(to_markdown(table) if suffix == ".md" else to_latex(table))


@dataclass(frozen=True)
class LinearFit:
    """Least-squares line y = slope·x + intercept, Pearson r and the fit's RMSE."""

    slope: float
    intercept: float
    r: float
    rmse: float
    n: int


def linear_fit(x: Sequence[float], y: Sequence[float]) -> LinearFit:
    """Fit y on x; ValueError (saying why) with fewer than 3 points or constant x or y."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        raise ValueError(f"{len(x)} point{'s' if len(x) != 1 else ''}, a fit needs 3")
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy, sxy = float(dx @ dx), float(dy @ dy), float(dx @ dy)
    if sxx == 0 or syy == 0:
        raise ValueError(f"{'x' if sxx == 0 else 'y'} is constant")
    slope = sxy / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    rmse = math.sqrt(float(np.mean((y - (slope * x + intercept)) ** 2)))
    return LinearFit(slope, intercept, sxy / math.sqrt(sxx * syy), rmse, len(x))


def average_score(metrics: pd.DataFrame, evaluator: str = "lmeval") -> tuple[pd.Series, list[str]]:
    """Mean of `evaluator`'s higher-is-better metrics per run, over the metrics that every such
    run has (so that averages compare), and those metrics' names."""
    rows = metrics[(metrics.evaluator == evaluator) & metrics.higher_is_better]
    keyed = rows.assign(key=[_key(b, m) for b, m in zip(rows.benchmark, rows.metric, strict=True)])
    wide = keyed.pivot(index="run", columns="key", values="value").dropna(axis=1)
    keys = [k for k in dict.fromkeys(keyed.key) if k in wide.columns]
    wide = wide.reindex(index=list(dict.fromkeys(keyed.run)), columns=keys)
    return (wide.mean(axis=1) if keys else pd.Series(dtype=float)), keys


def panels(n: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure with `n` panels side by side (at least one) under `title`."""
    fig = Figure(figsize=(4.6 * max(n, 1), 4.4), layout="constrained")
    fig.suptitle(textwrap.fill(title, 60 * max(n, 1)), fontsize=9)
    return fig, list(fig.subplots(1, max(n, 1), squeeze=False)[0])


def no_data(ax: Axes, message: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_axis_off()


def method_colors(metrics: pd.DataFrame) -> dict[str, str]:
    """One colour per method, in order of appearance, the same in every panel and figure."""
    return {method: f"C{i % 10}" for i, method in enumerate(dict.fromkeys(metrics.method))}


def _scatter_fit(ax: Axes, points: pd.DataFrame, title: str, colors: dict[str, str],
                 max_labels: int = 20) -> None:
    """Points (columns x, y, group, label) coloured by group, with the least-squares line and
    Pearson r over all of them, or the reason there is no line."""
    for group in dict.fromkeys(points.group):
        part = points[points.group == group]
        ax.scatter(part.x, part.y, color=colors[group], label=group, zorder=3)
    ax.margins(x=0.15, y=0.1)
    if len(points) <= max_labels:
        for x, y, label in zip(points.x, points.y, points.label, strict=True):
            ax.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6)
    try:
        fit = linear_fit(points.x, points.y)
    except ValueError as why:
        ax.set_title(f"{title}\nno fit: {why}", fontsize=9)
    else:
        xs = np.array([points.x.min(), points.x.max()])
        ax.plot(xs, fit.slope * xs + fit.intercept, color="black", linewidth=1,
                label=f"least squares: r = {fit.r:.3f}, RMSE {fit.rmse:.3g}")
        ax.set_title(f"{title}\nPearson r = {fit.r:.3f} (n = {fit.n})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _score_title(evaluator: str, keys: list[str]) -> str:
    if not keys:
        return f"no {evaluator} metric common to all runs"
    return f"score = mean of {evaluator} {', '.join(keys)}"


ENTROPY_LAW_AXES = {  # x of the entropy-law panels: column -> axis label
    "ZIP compression ratio": "ZIP compression ratio of the selected data\n"
                             "(higher is more redundant)",
    "first-epoch loss": "mean training loss over the first epoch",
}


def entropy_law_figure(metrics: pd.DataFrame, selections: pd.DataFrame,
                       training: pd.DataFrame, evaluator: str = "lmeval") -> Figure:
    """ZIP's entropy-law plot: the average benchmark score of each fine-tuned run against the
    compression ratio of its selected data (as ZIP defines it) and against its first-epoch
    training loss (`training`: `report.training.training_table`), two panels per (pool, base
    model), coloured by method and labelled with the budget; the base model's score is a
    dashed line. A run without the x value is left out of that panel."""
    score, keys = average_score(metrics, evaluator)
    runs = metrics.drop_duplicates("run")[["run", *RUN_COLUMNS]]
    runs = runs[runs.run.isin(score.index)]
    tuned = runs[runs.method != "base"].merge(selections, on=_CELL).merge(training, on="run",
                                                                          how="left")
    cells = list(dict.fromkeys(zip(tuned.pool, tuned.base_model, strict=True)))
    fig, axes = panels(len(ENTROPY_LAW_AXES) * len(cells), _score_title(evaluator, keys))
    if not cells:
        no_data(axes[0], "no fine-tuned run with both a score and a selection manifest")
    panel = iter(axes)
    for pool, model in cells:
        base = runs[(runs.method == "base") & (runs.base_model == model)]
        for column, label in ENTROPY_LAW_AXES.items():
            ax = next(panel)
            if len(base):
                ax.axhline(score[base.run.iloc[0]], color="grey", linestyle="--",
                           label=f"base {model}")
            rows = tuned[(tuned.pool == pool) & (tuned.base_model == model)
                         & tuned[column].notna()]
            points = pd.DataFrame({"x": rows[column].to_numpy(), "y": score[rows.run].to_numpy(),
                                   "group": rows.method.to_numpy(),
                                   "label": rows.budget.to_numpy()})
            _scatter_fit(ax, points, f"{pool} → {model}", method_colors(metrics))
            ax.set_xlabel(label)
            ax.set_ylabel(f"average {evaluator} score")
    return fig


def save_figure(fig: Figure, *paths: str | os.PathLike) -> None:
    """Save `fig` atomically in each path's format (.png, .svg), without timestamps."""
    for path in paths:
        fmt = Path(path).suffix.lstrip(".")
        with matplotlib.rc_context({"svg.hashsalt": "sieve"}), atomic_output(path, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=150, metadata={"Date": None} if fmt == "svg" else None)
