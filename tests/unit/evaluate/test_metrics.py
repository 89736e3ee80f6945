"""The metrics contract: one writer and one reader that agree, and refuse what is outside it;
the evaluator registry that says which metrics files a config produces."""

import json
import math

import pytest

from tests.support import load_config
from workflow_lib.config.validate import validate_config
from workflow_lib.core.jsonio import DataError
from workflow_lib.evaluate.metrics import (
    ContractError,
    MetricRow,
    RunMetrics,
    read_metrics,
    write_metrics,
)
from workflow_lib.evaluate.registry import EVALUATORS, enabled_evaluators

ROWS = [MetricRow("heldout_em", "exact_match", 0.25, stderr=0.05, n=20, higher_is_better=True),
        MetricRow("heldout_mc", "acc", 1, stderr=None, n=None, higher_is_better=True),
        MetricRow("wiki", "perplexity", None, stderr=None, n=7, higher_is_better=False)]
DOC = {"run": "base-tiny", "evaluator": "lmeval", "metrics": [
    {"benchmark": "heldout_em", "metric": "exact_match", "value": 0.25, "stderr": 0.05, "n": 20,
     "higher_is_better": True},
    {"benchmark": "heldout_mc", "metric": "acc", "value": 1, "stderr": None, "n": None,
     "higher_is_better": True},
    {"benchmark": "wiki", "metric": "perplexity", "value": None, "stderr": None, "n": 7,
     "higher_is_better": False}]}


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "results/eval/base-tiny/lmeval/metrics.json"
    write_metrics(path, RunMetrics("base-tiny", "lmeval", ROWS))
    return path


def test_written_file_reads_back_equal_in_the_documented_layout(path):
    assert read_metrics(path) == RunMetrics("base-tiny", "lmeval", tuple(ROWS))
    # the layout the report has always read: keys in this order, indented by 2, final newline
    assert path.read_text(encoding="utf-8") == json.dumps(DOC, indent=2) + "\n"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("evaluator"), "field 'evaluator': missing"),
    (lambda d: d.update(evaluator="helm"),
     "field 'evaluator': expected one of lmeval, bpc, mtbench"),
    (lambda d: d.update(run=""), "field 'run': expected a non-empty string"),
    (lambda d: d.update(extra=1), "field 'extra': unknown key"),
    (lambda d: d.update(metrics={}), "field 'metrics': expected a list, got dict"),
    (lambda d: d["metrics"].append(3), r"field 'metrics\[3\]': expected a JSON object, got int"),
    (lambda d: d["metrics"][0].update(value=True),
     r"metrics\[0\].value': expected a finite number or null, got True"),
    (lambda d: d["metrics"][0].update(value="0.5"),
     r"metrics\[0\].value': expected a finite number or null"),
    (lambda d: d["metrics"][1].update(n=2.5), r"metrics\[1\].n': expected an integer >= 0 or null"),
    (lambda d: d["metrics"][1].update(n=-1), r"metrics\[1\].n': expected an integer >= 0 or null"),
    (lambda d: d["metrics"][0].update(stderr=-0.1),
     r"metrics\[0\].stderr': expected a finite number >= 0 or null"),
    (lambda d: d["metrics"][2].update(higher_is_better=None),
     r"metrics\[2\].higher_is_better': expected true or false"),
    (lambda d: d["metrics"][0].update(metric=""), r"metrics\[0\].metric': expected a non-empty"),
    (lambda d: d["metrics"][0].update(extra=1), r"metrics\[0\].extra': unknown key"),
    (lambda d: d["metrics"][0].pop("stderr"), r"metrics\[0\].stderr': missing"),
    (lambda d: d["metrics"].append(d["metrics"][0]),
     r"field 'metrics\[3\]': heldout_em exact_match is reported twice"),
])
def test_malformed_metrics_name_file_and_field(path, change, message):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=message) as err:
        read_metrics(path)
    assert str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize("text", ["{", "[]", '"metrics"', b"\xff{}"])
def test_a_file_that_is_no_json_object_is_named(path, text):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(DataError) as err:
        read_metrics(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_on_read(path, number):
    """Python's json writes NaN and Infinity, which are not JSON; null says "no number"."""
    text = path.read_text().replace('"value": 0.25', f'"value": {number}', 1)
    path.write_text(text)
    with pytest.raises(DataError, match=r"metrics\[0\].value': expected a finite number or null"):
        read_metrics(path)


@pytest.mark.parametrize("number", [math.nan, math.inf])
def test_non_finite_numbers_are_refused_on_write(number):
    with pytest.raises(ContractError, match="value: expected a finite number or null, got"):
        MetricRow("b", "m", number, stderr=None, n=None, higher_is_better=True)
    with pytest.raises(ContractError, match="stderr: expected a finite number >= 0 or null"):
        MetricRow("b", "m", 0.5, stderr=number, n=None, higher_is_better=True)


def test_writer_refuses_duplicates_unknown_evaluators_and_loose_rows(tmp_path):
    with pytest.raises(ContractError, match=r"metrics\[3\]: heldout_em exact_match is reported"):
        RunMetrics("r", "lmeval", [*ROWS, ROWS[0]])
    with pytest.raises(ContractError, match="evaluator: expected one of lmeval, bpc, mtbench"):
        RunMetrics("r", "helm", ROWS)
    with pytest.raises(ContractError, match=r"metrics\[0\]: expected a MetricRow, got dict"):
        RunMetrics("r", "lmeval", [DOC["metrics"][0]])
    with pytest.raises(ContractError, match="n: expected an integer >= 0 or null, got True"):
        MetricRow("b", "m", 0.5, stderr=None, n=True, higher_is_better=True)
    assert not list(tmp_path.iterdir())


def test_registry_names_each_evaluators_metrics_file():
    assert list(EVALUATORS) == ["lmeval", "bpc", "mtbench", "pairwise", "alpaca_eval"]
    assert EVALUATORS["bpc"].metrics == "results/eval/{run}/bpc/metrics.json"
    assert EVALUATORS["mtbench"].metrics_file("base-tiny") == (
        "results/eval/base-tiny/mtbench/metrics.json")
    assert all(isinstance(e.version, int) and e.version >= 1 for e in EVALUATORS.values())


@pytest.mark.parametrize(("corpora", "mtbench", "heldout", "expected"), [
    (["small_cc"], False, True, ["lmeval", "bpc"]),
    ([], False, True, ["lmeval"]),
    ([], True, True, ["lmeval", "mtbench"]),
    (["small_cc"], True, True, ["lmeval", "bpc", "mtbench"]),
    ([], True, False, ["mtbench"]),  # lm-eval without a task (the ZIP recipe): not run
])
def test_config_enables_lmeval_with_tasks_bpc_with_corpora_mtbench_when_asked(
        corpora, mtbench, heldout, expected):
    config = load_config("tiny")
    config["corpora"] = {"small_cc": {"source": {"kind": "local", "path": "corpus.jsonl"}}}
    config["eval"]["bpc"]["corpora"] = corpora
    config["eval"]["mtbench"] = {"enabled": mtbench}
    config["eval"]["lmeval"]["heldout"] = heldout
    validate_config(config)
    assert [e.name for e in enabled_evaluators(config)] == expected
