"""Pairwise judging in the report: a run's metrics file through the metrics contract, its
winning score in the paper table (marked when the judge is the stand-in), and the stacked
win / tie / lose bars per test set."""

import pandas as pd
import pytest

from workflow_lib.config.grid import runs
from workflow_lib.evaluate.metrics import read_metrics, write_metrics
from workflow_lib.evaluate.pairwise.score import pairwise_run_metrics
from workflow_lib.report.pairwise import STAND_IN_NOTE, pairwise_counts, pairwise_figure
from workflow_lib.report.tables import collect_metrics, main_table, save_figure, selection_table

CONFIG = {
    "methods": {"full": {"kind": "full"}, "random": {"kind": "random"},
                "longest": {"kind": "longest"}},
    "experiments": [{"pools": ["demo"], "methods": ["full", "random", "longest"],
                     "budgets": [10], "base_models": ["tiny"]}],
}
RUNS = runs(CONFIG)


def judged(counts: dict[str, tuple[int, int, int, int]]) -> list[dict]:
    """Judgment records with the given (win, tie, lose, failed) per set."""
    return [{"set": name, "outcome": outcome}
            for name, numbers in counts.items()
            for outcome, k in zip(("win", "tie", "lose", "failed"), numbers, strict=True)
            for _ in range(k)]


@pytest.fixture
def metrics(tmp_path) -> pd.DataFrame:
    """longest against full and random, random against full, as metrics files read back."""
    files = {
        "demo-longest-10-tiny": {"full": judged({"vicuna": (2, 1, 0, 0), "lima": (0, 1, 2, 1)}),
                                 "random": judged({"vicuna": (3, 0, 0, 0), "lima": (1, 1, 1, 0)})},
        "demo-random-10-tiny": {"full": judged({"vicuna": (0, 0, 3, 0), "lima": (1, 2, 0, 0)})},
    }
    paths = []
    for run, per_reference in files.items():
        path = tmp_path / run / "metrics.json"
        path.parent.mkdir()
        write_metrics(path, pairwise_run_metrics(run, per_reference))
        assert read_metrics(path).evaluator == "pairwise"
        paths.append(path)
    return collect_metrics(paths, RUNS)


def test_winning_score_per_reference_is_the_tables_pairwise_column(metrics):
    table = main_table(metrics, selection_table([]), stand_in=["pairwise"])
    columns = [c for c in table.columns if c.startswith("pairwise")]
    assert columns == ["pairwise_vs_full (winning_score) ↑ [stand-in judge]",
                       "pairwise_vs_random (winning_score) ↑ [stand-in judge]"]
    by_method = table.set_index("method")
    # longest vs full: 2 wins, 2 ties, 2 losses, 1 failure apart -> (2 - 2) / 6 + 1
    assert by_method.loc["longest", columns[0]] == pytest.approx(1.0)
    assert by_method.loc["longest", columns[1]] == pytest.approx(1 + 3 / 6)
    assert by_method.loc["random", columns[0]] == pytest.approx(1 + (1 - 3) / 6)
    assert pd.isna(by_method.loc["random", columns[1]])
    plain = main_table(metrics, selection_table([]))
    assert "pairwise_vs_full (winning_score) ↑" in plain.columns


def test_bars_stack_the_counts_of_each_set_and_the_title_names_the_stand_in(metrics, tmp_path):
    counts = pairwise_counts(metrics)
    assert counts.to_dict("records")[:2] == [
        {"run": "demo-longest-10-tiny", "reference": "full", "set": "vicuna", "win": 2, "tie": 1,
         "lose": 0, "failed": 0},
        {"run": "demo-longest-10-tiny", "reference": "full", "set": "lima", "win": 0, "tie": 1,
         "lose": 2, "failed": 1}]
    fig = pairwise_figure(metrics, "gpt-4", stand_in=True)
    assert STAND_IN_NOTE in fig._suptitle.get_text()
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [
        "demo-longest-10-tiny vs full: winning score 1.000",
        "demo-longest-10-tiny vs random: winning score 1.500",
        "demo-random-10-tiny vs full: winning score 0.667"]
    # first panel: win, tie, lose, failed segments of vicuna then lima
    widths = [patch.get_width() for patch in axes[0].patches]
    assert widths == [2, 0, 1, 1, 0, 2, 0, 1]
    assert "gpt-4" in pairwise_figure(metrics, "gpt-4", stand_in=False)._suptitle.get_text()
    save_figure(fig, tmp_path / "pairwise.png")
    assert (tmp_path / "pairwise.png").stat().st_size > 10_000


def test_no_pairwise_metrics_gives_a_panel_that_says_so():
    empty = collect_metrics([], RUNS)
    fig = pairwise_figure(empty, "gpt-4", stand_in=False)
    assert "no pairwise metrics" in fig.axes[0].texts[0].get_text()
