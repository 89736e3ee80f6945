"""AlpacaEval through Snakemake on the tiny config: the base model answers the project's demo
instructions, the alpaca-eval package (in .venv-alpaca) annotates them with alpaca_eval_gpt4 sent
to the stand-in judge, and the win rate reaches the paper table marked as the stand-in's; an
unknown annotator config then fails the annotation job with one line and leaves nothing."""

from __future__ import annotations

import json

import pytest

from tests.support import ROOT, TINY_CONFIG, snakemake, write_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / ".venv-alpaca/bin/python").exists(),
                       reason="`make alpaca` builds .venv-alpaca"),
]
EVAL = "results/eval/base-tiny/alpaca_eval"


def alpaca_config(**block) -> dict:
    config = json.loads(json.dumps(TINY_CONFIG))
    config["experiments"] = [{"base_models": ["tiny"]}]
    config["eval"]["bpc"]["corpora"] = []
    config["eval"]["alpaca_eval"] = {"enabled": True, "max_length": 96, "batch_size": 5, **block}
    return config


def test_alpaca_eval_runs_to_the_paper_table_and_refuses_an_unknown_annotator(tmp_path):
    write_config(tmp_path, alpaca_config())
    snakemake(tmp_path, "tables")
    metrics = json.loads((tmp_path / EVAL / "metrics.json").read_text())
    rows = {row["metric"]: row for row in metrics["metrics"]}
    annotations = [json.loads(line) for line in (tmp_path / EVAL / "annotations.jsonl").open()]
    assert len(annotations) == 5 and rows["win_rate"]["n"] + rows["failed"]["value"] == 5
    wins = sum(a["preference"] == 2.0 for a in annotations)
    assert rows["win_rate"]["value"] == pytest.approx(100 * wins / rows["win_rate"]["n"])
    answers = [json.loads(line) for line in (tmp_path / EVAL / "answers.jsonl").open()]
    assert [a["instruction"] for a in answers] == [a["instruction"] for a in annotations]
    header = (tmp_path / "results/tables/main.md").read_text().splitlines()[0]
    assert "alpaca_eval (win_rate) ↑ [stand-in judge]" in header
    assert "length_controlled_winrate" not in header  # in metrics.csv only
    assert "alpaca_eval,length_controlled_winrate" in \
        (tmp_path / "results/tables/metrics.csv").read_text().replace('"', "")

    write_config(tmp_path, alpaca_config(annotator="gpt5_magic"))
    proc = snakemake(tmp_path, "tables", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "ERROR: eval.alpaca_eval.annotator: 'gpt5_magic' is not an annotator config of " \
           "alpaca-eval (known: " in out
    assert not (tmp_path / EVAL / "metrics.json").exists()
    assert not (tmp_path / EVAL / "annotations.jsonl").exists()
