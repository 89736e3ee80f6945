"""The paper's data points (Tables 4, 6, 8 of arXiv 2404.09937v2) through the project's fit."""

import pandas as pd
import pytest

from workflow_lib.report.bpc_areas import (
    Area,
    Benchmark,
    area_figure,
    area_panels,
    correlations,
    read_paper_points,
)
from workflow_lib.report.tables import METRIC_COLUMNS, save_figure

SCORES = {"knowledge": ["hellaswag", "arc_c", "nq", "triviaqa", "mmlu"],
          "coding": ["humaneval", "mbpp", "ds1000"],
          "math": ["gsm8k", "math", "sat_math", "mmlu_math"]}
# docs/methods.md §4.6: Pearson r and RMSE per area (Qwen out of the math fit) and overall.
PAPER = {"knowledge": (-0.935, 0.019), "coding": (-0.937, 0.040), "math": (-0.953, 0.031),
         "overall": (-0.931, 0.031)}
CORPORA = {"knowledge": "cc", "coding": "python", "math": "arxiv_math"}


def test_paper_table_is_transcribed_consistently():
    table = read_paper_points()
    assert table.groupby("area", sort=False).size().to_dict() == {
        "knowledge": 19, "coding": 28, "math": 22}
    assert table.groupby("area", sort=False).table.first().to_dict() == {
        "knowledge": 4, "coding": 6, "math": 8}
    for area, columns in SCORES.items():
        rows = table[table.area == area]
        assert rows[columns].notna().all().all()
        others = [c for cols in SCORES.values() for c in cols if c not in columns]
        assert rows[others].isna().all().all()
        # the printed average is the mean of the printed scores, up to rounding to 0.1
        assert (rows[columns].mean(axis=1) - rows.average).abs().max() <= 0.05 + 1e-9, area
    assert set(table.model[table.excluded]) == {"Qwen-7b", "Qwen-14b", "Qwen-72b"}
    assert set(table.area[table.excluded]) == {"math"}
    assert table.bpc.between(0.2, 0.7).all()


def tiny_metrics() -> pd.DataFrame:
    """Three runs with a BPC on each corpus and one score per area."""
    rows = []
    for i, run in enumerate(["a", "b", "c"]):
        info = {"run": run, "pool": "-", "method": "base", "budget": "-", "base_model": run}
        for area, corpus in CORPORA.items():
            rows.append({**info, "evaluator": "bpc", "benchmark": corpus, "metric": "bpc",
                         "value": 0.6 - 0.1 * i, "stderr": None, "n": 100,
                         "higher_is_better": False})
            rows.append({**info, "evaluator": "lmeval", "benchmark": area, "metric": "acc",
                         "value": 0.3 + 0.1 * i + 0.01 * len(area), "stderr": None, "n": 10,
                         "higher_is_better": True})
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def test_paper_points_reproduce_the_papers_correlations(tmp_path):
    areas = [Area(area, corpus, (Benchmark(area, "acc"),), paper=area)
             for area, corpus in CORPORA.items()]
    metrics = tiny_metrics()
    panels = area_panels(metrics, areas)
    table = correlations(panels)
    paper = table[table.points == "paper"].set_index("area")
    for area, (r, rmse) in PAPER.items():
        assert paper.loc[area, "pearson_r"] == pytest.approx(r, abs=0.005), area
        assert paper.loc[area, "rmse"] == pytest.approx(rmse, abs=0.001), area
    assert paper.n.to_dict() == {"knowledge": 19, "coding": 28, "math": 19, "overall": 19}
    assert paper.loc["math", "excluded"] == "Qwen-7b;Qwen-14b;Qwen-72b"
    assert paper.loc["knowledge", "benchmarks"] == "Table 4"
    runs = table[table.points == "runs"].set_index("area")
    assert runs.n.tolist() == [3, 3, 3, 3] and (runs.pearson_r < -0.99).all()
    fig = area_figure(metrics, panels)
    assert len(fig.axes) == 4
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert legend[:2] == ["paper, Table 8", "paper, excluded from its fit"]
    assert legend[2].startswith("paper fit: r = -0.953, RMSE 0.0312 (n = 19)")
    save_figure(fig, tmp_path / "areas.png")
    assert (tmp_path / "areas.png").stat().st_size > 10_000
