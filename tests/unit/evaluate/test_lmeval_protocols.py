"""eval.lmeval.protocol: the Open LLM Leaderboard v1 as lm-eval runs it (tasks, shots, no chat
template), the rows it adds (MMLU's plain subject mean, the average) and how they reach the
paper table, and the configuration errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import load_config
from workflow_lib.config.grid import runs
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError
from workflow_lib.evaluate.lmeval.protocols import OPEN_LLM_V1, protocol_problems
from workflow_lib.evaluate.lmeval.run import lmeval_command, protocol_rows, run_lmeval, tidy_metrics
from workflow_lib.evaluate.lmeval.tasks import HUB_GROUP, write_task_folder
from workflow_lib.evaluate.metrics import read_metrics
from workflow_lib.evaluate.registry import EVALUATORS
from workflow_lib.report.tables import collect_metrics, main_table, selection_table

ARC, HELLASWAG, TQA = 0.6, 0.8, 0.4
# Two MMLU subjects of unequal size under lm-eval's category groups: the size-weighted mean
# (lm-eval's `mmlu` row) is (0.9·90 + 0.1·10)/100 = 0.82, the plain subject mean 0.5.
MMLU_WEIGHTED, MMLU_PLAIN = 0.82, 0.5
# Shaped like lm-eval 0.4.11's results_*.json for the protocol's tasks (trimmed).
RAW = {
    "results": {
        HUB_GROUP: {" ": " ", "alias": HUB_GROUP},
        "arc_challenge": {"acc,none": 0.5, "acc_stderr,none": 0.01,
                          "acc_norm,none": ARC, "acc_norm_stderr,none": 0.01},
        "hellaswag": {"acc,none": 0.7, "acc_stderr,none": 0.01,
                      "acc_norm,none": HELLASWAG, "acc_norm_stderr,none": 0.01},
        "mmlu": {"acc,none": MMLU_WEIGHTED, "acc_stderr,none": 0.01},
        "mmlu_stem": {"acc,none": 0.9, "acc_stderr,none": 0.03},
        "mmlu_anatomy": {"acc,none": 0.9, "acc_stderr,none": 0.03},
        "mmlu_other": {"acc,none": 0.1, "acc_stderr,none": 0.1},
        "mmlu_virology": {"acc,none": 0.1, "acc_stderr,none": 0.1},
        "truthfulqa_mc2": {"acc,none": TQA, "acc_stderr,none": 0.02},
    },
    "group_subtasks": {"truthfulqa_mc2": [], "mmlu_virology": [], "mmlu_other": ["mmlu_virology"],
                       "mmlu_anatomy": [], "mmlu_stem": ["mmlu_anatomy"],
                       "mmlu": ["mmlu_stem", "mmlu_other"], "hellaswag": [], "arc_challenge": [],
                       HUB_GROUP: ["arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc2"]},
    "higher_is_better": {HUB_GROUP: {}, "arc_challenge": {"acc": True, "acc_norm": True},
                         "hellaswag": {"acc": True, "acc_norm": True},
                         **{t: {"acc": True} for t in ("mmlu", "mmlu_stem", "mmlu_anatomy",
                                                      "mmlu_other", "mmlu_virology",
                                                      "truthfulqa_mc2")}},
    "n-samples": {"arc_challenge": {"original": 1172, "effective": 1172},
                  "hellaswag": {"original": 10042, "effective": 10042},
                  "mmlu_anatomy": {"original": 90, "effective": 90},
                  "mmlu_virology": {"original": 10, "effective": 10},
                  "truthfulqa_mc2": {"original": 817, "effective": 817}},
}


def protocol_config(**lmeval) -> dict:
    """The tiny config with the leaderboard-v1 protocol (and `lmeval` settings) for lm-eval."""
    config = load_config("tiny")
    config["eval"]["bpc"]["corpora"] = []
    config["eval"]["lmeval"].update({"protocol": "open_llm_v1", **lmeval})
    return config


def test_open_llm_v1_runs_the_leaderboard_tasks_and_shots_without_a_chat_template(tmp_path):
    config = validate_config(protocol_config())
    lmeval = EVALUATORS["lmeval"]
    tasks = lmeval.setting(config, "tasks")
    assert tasks["hub_tasks"] == [{"task": "arc_challenge", "num_fewshot": 25},
                                  {"task": "hellaswag", "num_fewshot": 10},
                                  {"task": "mmlu", "num_fewshot": 5},
                                  {"task": "truthfulqa_mc2", "num_fewshot": 0}]
    assert lmeval.setting(config, "apply_chat_template") is False
    assert tasks["protocol"] == "open_llm_v1"
    names = write_task_folder(tmp_path / "tasks", heldout={}, **tasks)
    group = yaml.safe_load((tmp_path / "tasks" / f"{HUB_GROUP}.yaml").read_text())
    assert group["task"] == tasks["hub_tasks"]
    cmd = lmeval_command("py", "m", tmp_path / "tasks", names, "o",
                         apply_chat_template=lmeval.setting(config, "apply_chat_template"))
    assert "--apply_chat_template" not in cmd and cmd[cmd.index("--tasks") + 1] == HUB_GROUP
    # Without a protocol the chat template stays the default; a subset of the protocol's tasks.
    plain = validate_config(protocol_config(protocol=None))
    assert lmeval.setting(plain, "apply_chat_template") is True
    subset = validate_config(protocol_config(protocol_tasks=["hellaswag"]))
    assert lmeval.setting(subset, "tasks")["hub_tasks"] == [{"task": "hellaswag",
                                                            "num_fewshot": 10}]


def test_mmlu_is_the_plain_mean_of_its_subjects_and_the_average_of_the_four():
    tidy = tidy_metrics(RAW, "r")
    weighted = {(r.benchmark, r.metric): r.value for r in tidy.rows}[("mmlu", "acc")]
    rows = {(r.benchmark, r.metric): r for r in protocol_rows(RAW, tidy.rows, "open_llm_v1")}
    assert list(rows) == [("mmlu", "acc_subject_mean"), ("open_llm_v1", "average")]
    mmlu = rows["mmlu", "acc_subject_mean"]
    assert weighted == MMLU_WEIGHTED and mmlu.value == pytest.approx(MMLU_PLAIN)
    assert (mmlu.n, mmlu.stderr, mmlu.higher_is_better) == (100, None, True)
    average = rows["open_llm_v1", "average"]
    assert average.value == pytest.approx((ARC + HELLASWAG + MMLU_PLAIN + TQA) / 4)


def test_no_average_without_all_four_and_null_with_a_missing_score():
    partial = json.loads(json.dumps(RAW))
    del partial["results"]["truthfulqa_mc2"]
    assert [(r.benchmark, r.metric) for r in
            protocol_rows(partial, tidy_metrics(partial, "r").rows, "open_llm_v1")] == [
        ("mmlu", "acc_subject_mean")]
    nan = json.loads(json.dumps(RAW))
    nan["results"]["mmlu_virology"]["acc,none"] = float("nan")
    rows = protocol_rows(nan, tidy_metrics(nan, "r").rows, "open_llm_v1")
    assert [r.value for r in rows] == [None, None]


FAKE_LMEVAL = """import json, os, sys
out = sys.argv[sys.argv.index("--output_path") + 1]
os.makedirs(os.path.join(out, "model"))
with open(os.path.join(out, "model", "results_1.json"), "w") as fh:
    fh.write(os.environ["FAKE_RESULTS"])
"""


def test_the_average_reaches_the_paper_table(tmp_path, monkeypatch):
    """A run's lm-eval job with the protocol (lm-eval replaced by a script that writes the
    fixture results) writes the protocol's rows, and the main table shows the average."""
    config = validate_config(protocol_config())
    (tmp_path / "lm_eval").mkdir()
    (tmp_path / "lm_eval" / "__main__.py").write_text(FAKE_LMEVAL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("FAKE_RESULTS", json.dumps(RAW))
    write_task_folder(tmp_path / "tasks", heldout={},
                      **EVALUATORS["lmeval"].setting(config, "tasks"))
    run = runs(config)[0].name
    out, model = tmp_path / "eval", tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with open(tmp_path / "job.log", "w") as log:
        run_lmeval(model, tmp_path / "tasks", run=run, results=out / "results.json",
                   metrics=out / "metrics.json", manifest=out / "manifest.json", log=log,
                   python=sys.executable, offline=False,
                   apply_chat_template=EVALUATORS["lmeval"].setting(config,
                                                                    "apply_chat_template"))
    assert "--apply_chat_template" not in (tmp_path / "job.log").read_text()
    assert ("open_llm_v1", "average") in {(r.benchmark, r.metric)
                                          for r in read_metrics(out / "metrics.json").rows}
    table = main_table(collect_metrics([out / "metrics.json"], runs(config)),
                       selection_table([]))
    expected = (ARC + HELLASWAG + MMLU_PLAIN + TQA) / 4
    assert table["open_llm_v1 (average) ↑"].tolist() == [pytest.approx(expected)]
    assert table["mmlu (acc_subject_mean) ↑"].tolist() == [pytest.approx(MMLU_PLAIN)]


def fake_tools(tmp_path: Path, task_files: list[str]) -> str:
    """A tools interpreter path whose virtual environment's lm-eval has only `task_files`."""
    tasks = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "lm_eval" / "tasks"
    for name in task_files:
        (tasks / name).parent.mkdir(parents=True, exist_ok=True)
        (tasks / name).write_text("task: x\n")
    return str(tmp_path / "venv" / "bin" / "python")


@pytest.mark.parametrize("lmeval, message", [
    ({"protocol": "open_llm_v3"},
     "eval.lmeval.protocol: 'open_llm_v3' is not a protocol of Sieve's lm-eval "
     "(protocols: open_llm_v1, iterit_open_instruct)"),
    ({"apply_chat_template": True},
     "eval.lmeval.apply_chat_template: open_llm_v1 sets it to false; leave it unset"),
    ({"protocol_tasks": ["gsm8k"]},
     "eval.lmeval.protocol_tasks: gsm8k not in open_llm_v1 (arc_challenge, hellaswag, mmlu, "
     "truthfulqa_mc2)"),
    ({"hub_tasks": [{"task": "mmlu", "num_fewshot": 0}]},
     "eval.lmeval.hub_tasks: mmlu already run by protocol open_llm_v1; remove them"),
    ({"protocol": None, "protocol_tasks": ["mmlu"]},
     "eval.lmeval.protocol_tasks: set only with eval.lmeval.protocol"),
])
def test_bad_protocol_settings_fail_validation_with_one_line(lmeval, message):
    with pytest.raises(ConfigError) as err:
        validate_config(protocol_config(**lmeval))
    assert str(err.value).splitlines()[1:] == [f"  {message}"]


def test_a_protocol_the_installed_lmeval_lacks_fails_validation(tmp_path):
    config = protocol_config()
    config["tools_python"] = fake_tools(tmp_path, [b.task_file for b in OPEN_LLM_V1.benchmarks
                                                   if b.task != "mmlu"])
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    [line] = str(err.value).splitlines()[1:]
    assert line.startswith("  eval.lmeval.protocol: open_llm_v1 needs lm-eval tasks the "
                           "installed lm-eval (") and line.endswith(") lacks: mmlu")
    complete = fake_tools(tmp_path, [b.task_file for b in OPEN_LLM_V1.benchmarks])
    assert protocol_problems(validate_config(protocol_config())["eval"]["lmeval"],
                             complete) == []
