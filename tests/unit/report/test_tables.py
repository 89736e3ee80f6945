"""Tables and plots from fixture metrics with known values."""

import json

import numpy as np
import pandas as pd
import pytest

from workflow_lib.config.grid import runs
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError
from workflow_lib.report.bpc_areas import Area, Benchmark, area_figure, area_panels, correlations
from workflow_lib.report.tables import (
    METRIC_COLUMNS,
    average_score,
    collect_metrics,
    entropy_law_figure,
    linear_fit,
    main_table,
    read_metrics_table,
    save_figure,
    selection_table,
    source_mix,
    to_latex,
    to_markdown,
    write_table,
)
from workflow_lib.report.training import training_table
from workflow_lib.select.budget import Budget

CONFIG = {
    "methods": {"full": {"kind": "full"}, "random": {"kind": "random"},
                "longest": {"kind": "longest"}},
    "experiments": [{"pools": ["demo"], "methods": ["full", "random", "longest"],
                     "budgets": [10], "base_models": ["tiny"]}],
}
RUNS = runs(CONFIG)  # base-tiny, demo-full-all-tiny, demo-random-10-tiny, demo-longest-10-tiny
NAMES = [r.name for r in RUNS]
EM = dict(zip(NAMES, [0.2, 0.5, 0.3, 0.6], strict=True))
MC = dict(zip(NAMES, [0.4, 0.7, 0.5, 0.8], strict=True))
SCORE = {r: (EM[r] + MC[r]) / 2 for r in NAMES}  # perplexity (lower is better) is left out
CC = dict(zip(NAMES, [0.9, 0.7, 0.85, 0.72], strict=True))
PY = {NAMES[0]: 0.5, NAMES[1]: 0.4}  # two points: no fit
RATIO = {("full", "all"): 3.0, ("random", "10"): 2.6, ("longest", "10"): 2.2}
ZIP_RATIO = {("full", "all"): 4.0, ("random", "10"): 3.1, ("longest", "10"): 3.5}
LOSS = dict(zip(NAMES[1:], [1.9, 1.5, 1.7], strict=True))  # first-epoch loss of the fine-tunes
TOKENS = dict(zip(NAMES[1:], [40.0, 38.5, None], strict=True))  # None: an older manifest


def metric(benchmark, metric_name, value, up=True, stderr=None, n=None):
    return {"benchmark": benchmark, "metric": metric_name, "value": value, "stderr": stderr,
            "n": n, "higher_is_better": up}


def write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def files(tmp_path):
    """(metrics.json paths, selection manifest paths) in config order."""
    paths = []
    for run in NAMES:
        lmeval = [metric("heldout_em", "exact_match", EM[run], stderr=0.05, n=20),
                  metric("heldout_mc", "acc", MC[run], stderr=0.04, n=20),
                  metric("wiki", "perplexity", 10 + EM[run], up=False)]
        paths.append(write(tmp_path / run / "lmeval.json",
                           {"run": run, "evaluator": "lmeval", "metrics": lmeval}))
        bpc = [metric(c, "bpc", v[run], up=False, n=1000) for c, v in (("cc", CC), ("py", PY))
               if run in v]
        paths.append(write(tmp_path / run / "bpc.json",
                           {"run": run, "evaluator": "bpc", "metrics": bpc}))
    manifests = [write(tmp_path / method / budget / "manifest.json",
                       {"pool": "demo", "method": method, "budget": Budget.parse(budget).value,
                        "requested": 60 if budget == "all" else 12 if method == "longest" else 10,
                        "selected": 60 if budget == "all" else 10,
                        "stats": {"n_records": 60 if budget == "all" else 10,
                                  "n_turns_mean": 2.0, "response_chars_mean": 123.456,
                                  "conversation_chars_mean": 150.0, "compression_ratio": ratio,
                                  "zip_compression_ratio": ZIP_RATIO[method, budget],
                                  "source_mix": {"x": 3, "y": 7}}})
                 for (method, budget), ratio in RATIO.items()]
    return paths, manifests


@pytest.fixture
def training(tmp_path):
    """The training table of fixture model folders (an older manifest has no mean_tokens)."""
    folders = []
    for run, loss in LOSS.items():
        manifest = {"run": run, "metrics": {"first_epoch_loss": loss, "train_loss": 1.0}}
        if TOKENS[run] is not None:
            manifest["mean_tokens"] = TOKENS[run]
        folders.append(write(tmp_path / "models" / run / "manifest.json", manifest).parent)
    return training_table(folders)


@pytest.fixture
def metrics(files):
    return collect_metrics(files[0], RUNS)


@pytest.fixture
def selections(files):
    return selection_table(files[1])


def test_collect_metrics_is_the_tidy_table_with_run_identity(metrics, tmp_path):
    assert list(metrics.columns) == METRIC_COLUMNS
    assert len(metrics) == 4 * 3 + 4 + 2
    base = metrics[metrics.run == "base-tiny"].iloc[0]
    assert (base.pool, base.method, base.budget, base.base_model) == ("-", "base", "-", "tiny")
    row = metrics[(metrics.run == "demo-random-10-tiny") & (metrics.benchmark == "heldout_em")]
    assert row[["pool", "method", "budget", "value", "stderr", "n"]].iloc[0].tolist() == [
        "demo", "random", "10", 0.3, 0.05, 20]
    assert metrics[metrics.benchmark == "cc"].higher_is_better.eq(False).all()
    write_table(metrics, tmp_path / "metrics.csv")
    pd.testing.assert_frame_equal(read_metrics_table(tmp_path / "metrics.csv"), metrics)


def test_a_metric_without_a_value_is_missing_in_the_tables(files, selections, tmp_path):
    path = files[0][0]  # lmeval of base-tiny
    doc = json.loads(path.read_text())
    doc["metrics"][2]["value"] = None  # wiki perplexity
    path.write_text(json.dumps(doc))
    metrics = collect_metrics(files[0], RUNS)
    assert metrics[metrics.benchmark == "wiki"].value.isna().tolist() == [True, False, False, False]
    write_table(metrics, tmp_path / "metrics.csv")
    pd.testing.assert_frame_equal(read_metrics_table(tmp_path / "metrics.csv"), metrics)
    lines = to_markdown(main_table(metrics, selections)).splitlines()
    column = [c.strip() for c in lines[0].split("|")].index("wiki (perplexity) ↓")
    assert [line.split("|")[column].strip() for line in lines[2:]] == [
        "-", "10.5000", "10.3000", "10.6000"]


def test_metrics_of_unknown_run_or_given_twice_are_rejected(files):
    with pytest.raises(DataError, match="'base-tiny' is not a run of this configuration"):
        collect_metrics(files[0], RUNS[1:])
    with pytest.raises(DataError, match="lmeval metrics of run 'base-tiny' also come from"):
        collect_metrics([files[0][0], files[0][0]], RUNS)


def test_main_table_rows_are_methods_with_selection_stats_and_benchmark_columns(
        metrics, selections, training):
    table = main_table(metrics, selections, training=training)
    assert list(table.columns) == [
        "pool", "method", "budget", "base model", "size", "mean response chars",
        "compression ratio", "ZIP compression ratio", "mean tokens", "first-epoch loss",
        "heldout_em (exact_match) ↑", "heldout_mc (acc) ↑",
        "wiki (perplexity) ↓", "cc (bpc) ↓", "py (bpc) ↓"]
    assert table[["method", "budget"]].values.tolist() == [
        ["base", "-"], ["full", "all"], ["random", "10"], ["longest", "10"]]
    assert table["size"].tolist() == [pd.NA, 60, 10, 10]
    assert table["compression ratio"].tolist()[1:] == [3.0, 2.6, 2.2]
    assert table["ZIP compression ratio"].tolist()[1:] == list(ZIP_RATIO.values())
    assert table["first-epoch loss"].tolist()[1:] == list(LOSS.values())
    assert table["first-epoch loss"].isna().tolist() == [True, False, False, False]
    assert table["mean tokens"].isna().tolist() == [True, False, False, True]
    cells = [c.strip() for c in to_markdown(table).splitlines()[3].split("|")[8:11]]
    assert cells == ["4.000", "40.0", "1.9000"]
    assert table["cc (bpc) ↓"].tolist() == list(CC.values())
    assert table["py (bpc) ↓"].isna().tolist() == [False, False, True, True]


def test_selection_table_has_the_manifest_statistics(selections, files):
    assert list(selections.columns) == [
        "pool", "method", "budget", "requested", "selected", "mean turns", "mean response chars",
        "mean conversation chars", "compression ratio", "ZIP compression ratio", "source mix",
        "manifest"]
    assert selections.loc[2].tolist() == ["demo", "longest", "10", 12, 10, 2.0, 123.456, 150.0,
                                          2.2, 3.5, "y 70%, x 30%", str(files[1][2])]
    assert source_mix({"a": 1, "b": 1, "c": 2}) == "c 50%, a 25%, b 25%"
    cells = to_markdown(selections).splitlines()[2].split("|")
    assert [c.strip() for c in cells[4:12]] == ["60", "60", "2.00", "123.5", "150.0", "3.000",
                                                "4.000", "y 70%, x 30%"]


def test_selection_table_shows_no_request_for_a_manifest_without_one(files):
    manifest = json.loads(files[1][0].read_text())
    del manifest["requested"], manifest["stats"]["zip_compression_ratio"]
    files[1][0].write_text(json.dumps(manifest))
    table = selection_table(files[1])
    assert table["requested"].isna().tolist() == [True, False, False]
    assert table["ZIP compression ratio"].isna().tolist() == [True, False, False]
    cells = [c.strip() for c in to_markdown(table).splitlines()[2].split("|")]
    assert cells[4:6] == ["-", "60"]


def test_markdown_and_latex_render_formatted_cells(metrics, selections, tmp_path):
    table = main_table(metrics, selections)
    markdown = to_markdown(table).splitlines()
    assert markdown[0].startswith("| pool   | method   | budget   | base model   |   size |")
    assert markdown[1].startswith("|:-------|:---------|:---------|:-------------|-------:|")
    cells = [c.strip() for c in markdown[4].strip("|").split("|")]
    assert cells == ["demo", "random", "10", "tiny", "10", "123.5", "2.600", "3.100", "-", "-",
                     "0.3000", "0.5000", "10.3000", "0.8500", "-"]
    latex = to_latex(table)
    assert latex.startswith("\\begin{tabular}{llllrrrrrrrrrrr}\n\\toprule\n")
    assert r"heldout\_em (exact\_match) $\uparrow$ &" in latex
    assert r"demo & random & 10 & tiny & 10 & 123.5 & 2.600 & 3.100 & - & - & 0.3000 &" in latex
    assert latex.endswith("\\bottomrule\n\\end{tabular}\n")
    for suffix in ("md", "tex", "csv"):
        write_table(table, tmp_path / f"main.{suffix}")
    assert (tmp_path / "main.md").read_text() == to_markdown(table)
    assert pd.read_csv(tmp_path / "main.csv")["cc (bpc) ↓"].tolist() == list(CC.values())


def test_linear_fit_matches_numpy():
    x, y = [0.9, 0.7, 0.85, 0.72, 0.6], [0.3, 0.6, 0.4, 0.55, 0.7]
    fit = linear_fit(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    assert fit.slope == pytest.approx(slope, rel=1e-12)
    assert fit.intercept == pytest.approx(intercept, rel=1e-12)
    assert fit.r == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)
    residuals = np.asarray(y) - np.polyval([slope, intercept], x)
    assert fit.rmse == pytest.approx(np.sqrt(np.mean(residuals**2)), rel=1e-9)
    assert fit.n == 5
    with pytest.raises(ValueError, match="2 points, a fit needs 3"):
        linear_fit(x[:2], y[:2])
    with pytest.raises(ValueError, match="x is constant"):
        linear_fit([1, 1, 1], [1, 2, 3])


def test_average_score_uses_higher_is_better_metrics_every_run_has(metrics):
    score, keys = average_score(metrics)
    assert keys == ["heldout_em (exact_match)", "heldout_mc (acc)"]
    assert score.to_dict() == pytest.approx(SCORE)
    partial = metrics[~((metrics.run == "base-tiny") & (metrics.benchmark == "heldout_mc"))]
    score, keys = average_score(partial)
    assert keys == ["heldout_em (exact_match)"] and score.to_dict() == pytest.approx(EM)


CORPUS_AREAS = (Area("cc", "cc"), Area("py", "py"))  # unconfigured: one per corpus


def bpc_figure(metrics, areas=CORPUS_AREAS):
    return area_figure(metrics, area_panels(metrics, list(areas)))


def test_bpc_figure_has_a_panel_per_corpus_with_fit_or_reason(metrics, tmp_path):
    fig = bpc_figure(metrics)
    cc, py = fig.axes
    r = np.corrcoef(list(CC.values()), list(SCORE.values()))[0, 1]
    assert cc.get_title().startswith(f"cc: r = {r:.3f}, RMSE ") and "(n = 4)" in cc.get_title()
    assert "heldout_em (exact_match), heldout_mc (acc)" in cc.get_ylabel().replace("\n", " ")
    assert py.get_title() == "py: no fit: 2 points, a fit needs 3" and not py.get_lines()
    line = cc.get_lines()[0]
    slope = np.polyfit(list(CC.values()), list(SCORE.values()), 1)[0]
    xs, ys = line.get_data()
    assert (ys[1] - ys[0]) / (xs[1] - xs[0]) == pytest.approx(slope)
    paths = [tmp_path / "a.png", tmp_path / "a.svg", tmp_path / "b.png", tmp_path / "b.svg"]
    save_figure(fig, *paths[:2])
    save_figure(bpc_figure(metrics), *paths[2:])
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 10_000
    assert paths[0].read_bytes() == paths[2].read_bytes()
    assert paths[1].read_bytes() == paths[3].read_bytes()


def test_configured_areas_weight_their_benchmarks_exclude_runs_and_add_overall(metrics):
    excluded = NAMES[1]
    areas = [Area("knowledge", "cc", (Benchmark("heldout_em", "exact_match", 3),
                                      Benchmark("heldout_mc", "acc")), frozenset({excluded})),
             Area("mc", "cc", (Benchmark("heldout_mc", "acc"),))]
    panels = area_panels(metrics, areas)
    assert [p.area for p in panels] == ["knowledge", "mc", "overall"]
    knowledge = {r: (3 * EM[r] + MC[r]) / 4 for r in NAMES}
    assert dict(zip(panels[0].runs.label, panels[0].runs.y, strict=True)) == pytest.approx(
        knowledge)
    overall = {r: (knowledge[r] + MC[r]) / 2 for r in NAMES}
    assert dict(zip(panels[2].runs.label, panels[2].runs.y, strict=True)) == pytest.approx(overall)
    table = correlations(panels).set_index("area")
    kept = [r for r in NAMES if r != excluded]
    x, y = [CC[r] for r in kept], [knowledge[r] for r in kept]
    assert table.loc["knowledge", "pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert table.loc["knowledge", ["n", "excluded"]].tolist() == [3, excluded]
    assert table.loc["overall", "n"] == 4 and table.loc["overall", "corpus"] == "cc"
    assert table.points.eq("runs").all()  # no paper points unless an area names the paper's
    fig = area_figure(metrics, panels)
    assert len(fig.axes) == 3 and fig.axes[0].get_title().startswith("knowledge: r = ")
    with pytest.raises(UserError, match=r"areas.mc: no run has heldout_mc \(acc_norm\); the"):
        area_panels(metrics, [Area("mc", "cc", (Benchmark("heldout_mc", "acc_norm"),))])


def test_entropy_law_figure_puts_score_against_zip_ratio_and_first_epoch_loss(
        metrics, selections, training, tmp_path):
    fig = entropy_law_figure(metrics, selections, training)
    ax, loss_ax = fig.axes
    tuned = NAMES[1:]
    r = np.corrcoef(list(ZIP_RATIO.values()), [SCORE[n] for n in tuned])[0, 1]
    assert f"Pearson r = {r:.3f} (n = 3)" in ax.get_title()
    r = np.corrcoef(list(LOSS.values()), [SCORE[n] for n in tuned])[0, 1]
    assert f"Pearson r = {r:.3f} (n = 3)" in loss_ax.get_title()
    assert ax.get_xlabel().startswith("ZIP compression ratio")
    assert loss_ax.get_xlabel() == "mean training loss over the first epoch"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["base tiny", "full", "random", "longest"]
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(SCORE["base-tiny"])
    save_figure(fig, tmp_path / "e.png", tmp_path / "e.svg")
    assert (tmp_path / "e.png").stat().st_size > 10_000
    assert (tmp_path / "e.svg").read_text().startswith("<?xml")


def test_plots_without_data_say_so(metrics, selections, training, tmp_path):
    lmeval_only = metrics[metrics.evaluator == "lmeval"]
    (ax,) = bpc_figure(lmeval_only, areas=()).axes
    assert [t.get_text() for t in ax.texts] == ["no BPC metrics (eval.bpc.corpora is empty)"]
    (ax,) = entropy_law_figure(metrics[metrics.method == "base"], selections, training).axes
    assert "no fine-tuned run" in ax.texts[0].get_text()
    save_figure(bpc_figure(lmeval_only, areas=()), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0
