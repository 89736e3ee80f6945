"""AlpacaEval 1.0 through the alpaca-eval package: the reference outputs and their checks, the
stand-in's rankings, the metrics rows, and (in the package's own environment, .venv-alpaca) the
annotation path against the package's parser and win-rate computation, and its bad inputs."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.support import ROOT
from workflow_lib.config.grid import runs
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError, UserError
from workflow_lib.core.jsonio import DataError
from workflow_lib.data.hub import HubError
from workflow_lib.evaluate.alpaca_eval.annotate import alpaca_eval_metrics, annotate
from workflow_lib.evaluate.alpaca_eval.reference import (
    demo_reference,
    load_reference,
    model_outputs,
    questions,
    read_reference,
)
from workflow_lib.evaluate.judge.server import deterministic_verdict
from workflow_lib.evaluate.registry import EVALUATORS

ALPACA_PYTHON = ROOT / ".venv-alpaca" / "bin" / "python"
needs_package = pytest.mark.skipif(not ALPACA_PYTHON.exists(),
                                   reason="`make alpaca` builds .venv-alpaca")
TEMPLATE = '''<|im_start|>user
Here is the prompt:
{{
    "instruction": """{instruction}""",
}}

Here are the outputs of the models:
[
    {{
        "model": "model_1",
        "answer": """{output_1}"""
    }},
    {{
        "model": "model_2",
        "answer": """{output_2}"""
    }}
]
<|im_end|>'''


def judge(**changes) -> dict:
    """A judge block as the schema fills it (stand-in), with `changes`."""
    return {"kind": "local", "base_url": None, "model": "gpt-4", "api_key_env": None,
            "unparsable_retries": 0, "parallel": 1, "timeout_s": 30, "max_retries": 0,
            "retry_wait_s": 1, **changes}


def answers_to(reference: list[dict]) -> list[dict]:
    return [{"question_id": str(i), "instruction": r["instruction"], "answer": f"answer {i}"}
            for i, r in enumerate(reference)]


def test_demo_reference_is_in_alpaca_evals_format():
    reference = demo_reference()
    assert len(reference) == 5
    assert all(set(r) == {"dataset", "instruction", "output", "generator"} for r in reference)
    assert [q.instruction for q in questions(reference)] == [r["instruction"] for r in reference]


def test_reference_file_read_and_limited(tmp_path):
    path = tmp_path / "alpaca_eval.json"
    path.write_text(json.dumps(demo_reference()))
    assert read_reference(path, limit=2) == demo_reference()[:2]


def test_missing_reference_file_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"^eval.alpaca_eval.reference_outputs: .*missing.json "
                                        r"does not exist") as err:
        read_reference(tmp_path / "missing.json")
    assert "\n" not in str(err.value)


def test_reference_sources_and_what_the_manifest_records(tmp_path):
    path = tmp_path / "alpaca_eval.json"
    path.write_text(json.dumps(demo_reference()))
    assert load_reference("demo", 3, offline=True) == (
        demo_reference()[:3], {"inputs": {}, "reference_outputs": "demo"})
    assert load_reference(str(path), None, offline=True)[1]["inputs"] == {"source": str(path)}
    hub = {"kind": "huggingface", "repo": "tatsu-lab/alpaca_eval", "revision": "main",
           "file": "alpaca_eval.json"}
    with pytest.raises(HubError, match=r"^eval.alpaca_eval.reference_outputs "
                                       r"\(tatsu-lab/alpaca_eval\) must be downloaded") as err:
        load_reference(hub, None, offline=True)
    assert "\n" not in str(err.value)


def test_malformed_reference_record_names_the_field(tmp_path):
    path = tmp_path / "ref.json"
    path.write_text(json.dumps([{"instruction": "a", "output": 3, "generator": "g"}]))
    with pytest.raises(DataError, match="record 0: output must be a string"):
        read_reference(path)


def test_answers_to_other_instructions_are_refused():
    reference = demo_reference()
    outputs = model_outputs(answers_to(reference), reference, "run", "answers.jsonl")
    assert [o["output"] for o in outputs] == [f"answer {i}" for i in range(5)]
    assert {o["generator"] for o in outputs} == {"run"}
    with pytest.raises(UserError, match="4 answers for 5 reference instructions"):
        model_outputs(answers_to(reference)[:4], reference, "run", "answers.jsonl")
    changed = [dict(r) for r in reference]
    changed[2]["instruction"] = "Something else."
    with pytest.raises(UserError, match="answer 2 is to 'Write a haiku"):
        model_outputs(answers_to(reference), changed, "run", "answers.jsonl")


def test_stand_in_ranks_the_answer_with_more_distinct_words_first():
    prompt = TEMPLATE.format(instruction="Say hi", output_1="hi", output_2="hello there friend")
    assert deterministic_verdict(prompt) == \
        "[{'model': 'model_1', 'rank': 2}, {'model': 'model_2', 'rank': 1}]"
    swapped = TEMPLATE.format(instruction="Say hi", output_1="hello there friend", output_2="hi")
    assert deterministic_verdict(swapped) == \
        "[{'model': 'model_1', 'rank': 1}, {'model': 'model_2', 'rank': 2}]"
    assert "rank" not in deterministic_verdict(prompt, rating=False)


def test_metrics_rows_count_unparsable_rankings_as_failed():
    result = {"win_rate": 50.0, "standard_error": 28.8, "n_wins": 2.0, "n_draws": 0.0,
              "n_total": 4.0, "length_controlled_winrate": None, "lc_standard_error": None,
              "annotations": [{"instruction": str(i), "preference": p}
                              for i, p in enumerate([1.0, 2.0, None, 2.0, 1.0])]}
    rows = {row.metric: row for row in alpaca_eval_metrics("r", result).rows}
    assert (rows["win_rate"].value, rows["win_rate"].stderr, rows["win_rate"].n) == (50.0, 28.8, 4)
    assert rows["length_controlled_winrate"].value is None
    assert (rows["failed"].value, rows["failed"].n) == (1.0, 5)


def test_missing_api_key_is_one_line_before_the_package_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("SIEVE_ALPACA_KEY", raising=False)
    settings = {"annotator": "alpaca_eval_gpt4", "seed": 0}
    with pytest.raises(UserError, match=r"^eval.alpaca_eval.judge.api_key_env: environment "
                                        r"variable SIEVE_ALPACA_KEY is not set"):
        annotate([], [], settings, judge(kind="openai", base_url="http://127.0.0.1:9/v1",
                                         api_key_env="SIEVE_ALPACA_KEY"),
                 str(tmp_path / "no-python"), offline=True)


def test_missing_interpreter_is_one_line(tmp_path):
    settings = {"annotator": "alpaca_eval_gpt4", "seed": 0}
    with pytest.raises(UserError, match=r"^eval.alpaca_eval.python: .*no-python does not exist"):
        annotate([], [], settings, judge(), str(tmp_path / "no-python"), offline=True)


# -- in the package's environment --------------------------------------------------------------

# Verdicts as GPT-4 returned them for alpaca_eval_gpt4 (the ranking list, sometimes with text
# around it, sometimes not parsable), keyed by whether the run's answer is ranked first. The
# replay serves, for each instruction, the recorded verdict that gives the intended preference
# whatever order the package showed the two outputs in.
RECORDED = {
    "run": "[{'model': '{run}', 'rank': 1}, {'model': '{ref}', 'rank': 2}]",
    "reference": "[{'model': '{ref}', 'rank': 1}, {'model': '{run}', 'rank': 2}]",
    "unparsable": "Both answers are good; I cannot rank them.",
    "bad_rank": "[{'model': '{run}', 'rank': 3}, {'model': '{ref}', 'rank': 3}]",
}
# Intended outcome per instruction: the run wins, loses, or the verdict cannot be parsed.
INTENDED = ["run", "reference", "run", "unparsable", "run", "reference", "bad_rank", "run"]
PREFERENCE = {"run": 2.0, "reference": 1.0, "unparsable": None, "bad_rank": None}


def replay(prompt: str) -> str:
    """The recorded verdict for the prompt's instruction, with the models named as shown."""
    index = int(re.search(r"Instruction [(](\d+)[)]", prompt).group(1))
    first = re.search(r'"model": "model_1",\s*"answer": """(.*?)"""', prompt, re.S).group(1)
    run, ref = ("model_1", "model_2") if first.startswith("run answer") else \
        ("model_2", "model_1")
    return RECORDED[INTENDED[index]].replace("{run}", run).replace("{ref}", ref)


def package_winrate(preferences: list[float | None]) -> dict:
    """The package's own get_winrate on the intended preferences (in its environment)."""
    code = ("import json, sys, pandas as pd; from alpaca_eval.metrics import get_winrate; "
            "p = json.loads(sys.argv[1]); "
            "r = get_winrate(pd.DataFrame({'preference': [float('nan') if x is None else x "
            "for x in p]})); print(json.dumps({k: float(v) for k, v in r.items()}))")
    proc = subprocess.run([str(ALPACA_PYTHON), "-c", code, json.dumps(preferences)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_package
def test_recorded_verdicts_give_the_packages_win_rate_and_standard_error(monkeypatch):
    from workflow_lib.evaluate.judge import server

    reference = [{"dataset": "t", "instruction": f"Instruction ({i}).", "output": f"ref {i}",
                  "generator": "text_davinci_003"} for i in range(len(INTENDED))]
    outputs = [{"instruction": r["instruction"], "output": f"run answer {i}", "generator": "run"}
               for i, r in enumerate(reference)]
    original = server.LocalJudge.__init__
    monkeypatch.setattr(server.LocalJudge, "__init__",
                        lambda self, **kw: original(self, **{**kw, "verdict": replay}))
    result = annotate(outputs, reference, {"annotator": "alpaca_eval_gpt4", "seed": 0}, judge(),
                      str(ALPACA_PYTHON), offline=True)
    preferences = [PREFERENCE[outcome] for outcome in INTENDED]
    assert [a["preference"] for a in result["annotations"]] == preferences
    expected = package_winrate(preferences)
    assert result["win_rate"] == pytest.approx(expected["win_rate"])
    assert result["standard_error"] == pytest.approx(expected["standard_error"])
    assert result["n_total"] == expected["n_total"] == 6  # the two unparsable are not counted
    # By hand: 4 wins of 6 preferences, the standard error of the mean of 0/1 outcomes, in %.
    assert result["win_rate"] == pytest.approx(100 * 4 / 6)
    assert result["standard_error"] == pytest.approx(100 * (4 / 6 * 2 / 6 / 5) ** 0.5)
    rows = {row.metric: row for row in alpaca_eval_metrics("r", result).rows}
    assert (rows["failed"].value, rows["failed"].n) == (2.0, 8)


@needs_package
def test_unknown_annotator_config_is_one_line():
    reference = demo_reference()[:1]
    outputs = [{"instruction": reference[0]["instruction"], "output": "x", "generator": "r"}]
    with pytest.raises(UserError, match=r"^eval.alpaca_eval.annotator: 'gpt5_magic' is not an "
                                        r"annotator config of alpaca-eval \(known: .*"
                                        r"alpaca_eval_gpt4") as err:
        annotate(outputs, reference, {"annotator": "gpt5_magic", "seed": 0}, judge(),
                 str(ALPACA_PYTHON), offline=True)
    assert "\n" not in str(err.value)


def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_methods_restrict_the_evaluated_runs():
    config = validate_config(demo_config())
    grid = runs(config)
    assert EVALUATORS["alpaca_eval"].evaluated_runs(config, grid) == [
        "demo-superfiltering-60-smollm2-135m", "demo-cherry-60-smollm2-135m"]
    config["eval"]["alpaca_eval"]["methods"] = None
    assert EVALUATORS["alpaca_eval"].evaluated_runs(config, grid) == [r.name for r in grid]


def test_an_unknown_method_to_evaluate_is_one_line():
    config = demo_config()
    config["eval"]["alpaca_eval"]["methods"] = ["cherry", "nope"]
    with pytest.raises(ConfigError, match=r"eval.alpaca_eval.methods.1: 'nope' is not defined "
                                          r"in methods \(defined: .*cherry"):
        validate_config(config)
