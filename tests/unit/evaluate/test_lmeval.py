"""lm-eval stage: the task folder it reads, the metrics it yields, and one real tiny run."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, TOOLS_PYTHON
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import DataError, read_jsonl, write_jsonl
from workflow_lib.data.demo_pool import generate_heldout, heldout_multiple_choice
from workflow_lib.evaluate.lmeval.run import lmeval_command, run_lmeval, tidy_metrics
from workflow_lib.evaluate.lmeval.tasks import (
    TASKS_FILE,
    gsm8k_answer,
    truthfulqa_mc2,
    write_task_folder,
)
from workflow_lib.evaluate.metrics import read_metrics

SHARED_EVAL = ROOT.parent / "shared" / "data" / "eval"

GSM8K = [{"question": f"What is {i} + {i}?",
          "answer": f"{i} + {i} = <<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i:,}"}
         for i in (7, 600, 1200, 3)]
TRUTHFULQA = [
    {"question": "Is the sky green?", "mc1_targets": {"No": 1, "Yes": 0},
     "mc2_targets": {"No": 1, "No, it is blue": 1, "Yes": 0}},
    {"question": "Can pigs fly?", "mc1_targets": {"No": 1, "Yes": 0},
     "mc2_targets": {"No": 1, "Yes": 0}},
]
# Shaped exactly like lm-eval 0.4.11's results_*.json (trimmed: configs, versions, env dropped).
RAW_RESULTS = {
    "results": {
        "demo_heldout_gen": {"alias": "demo_heldout_gen", "exact_match,strip": 0.2,
                             "exact_match_stderr,strip": 0.2},
        "gsm8k": {"alias": "gsm8k", "exact_match,strict": 0.0, "exact_match_stderr,strict": 0.0,
                  "exact_match,flexible": 0.5, "exact_match_stderr,flexible": 0.5},
        "mmlu": {"acc,none": 0.3, "acc_stderr,none": "N/A", "alias": "mmlu"},
        "mmlu_anatomy": {"alias": " - mmlu_anatomy", "acc,none": 0.5, "acc_stderr,none": "N/A"},
        "mmlu_virology": {"alias": " - mmlu_virology", "acc,none": 0.0,
                          "acc_stderr,none": "N/A"},
        "sieve_hub": {" ": " ", "alias": "sieve_hub"},
    },
    "groups": {"mmlu": {"acc,none": 0.3, "acc_stderr,none": "N/A", "alias": "mmlu"}},
    "group_subtasks": {"demo_heldout_gen": [], "gsm8k": [],
                       "mmlu": ["mmlu_anatomy", "mmlu_virology"], "sieve_hub": []},
    "higher_is_better": {"demo_heldout_gen": {"exact_match": True},
                         "gsm8k": {"exact_match": True}, "mmlu": {"acc": True},
                         "mmlu_anatomy": {"acc": True}, "mmlu_virology": {"acc": True},
                         "sieve_hub": {}},
    "n-samples": {"demo_heldout_gen": {"original": 200, "effective": 5},
                  "gsm8k": {"original": 1319, "effective": 2},
                  "mmlu_anatomy": {"original": 135, "effective": 2},
                  "mmlu_virology": {"original": 166, "effective": 1}},
}


class TaskLoader(yaml.SafeLoader):
    """Reads lm-eval's `!function module.name` tag as the string `!function module.name`."""


TaskLoader.add_constructor("!function", lambda loader, node: f"!function {node.value}")


def load_tasks(task_dir: Path) -> dict[str, dict]:
    """Every YAML of a task folder, by task or group name."""
    configs = [yaml.load(p.read_text(encoding="utf-8"), Loader=TaskLoader)
               for p in task_dir.glob("*.yaml")]
    return {c.get("group", c.get("task")): c for c in configs}


def data_file(config: dict, split: str = "test") -> Path:
    path = Path(config["dataset_kwargs"]["data_files"][split])
    assert path.is_absolute() and path.is_file()
    return path


def docs(config: dict, split: str = "test") -> list[dict]:
    return [doc for _, doc in read_jsonl(data_file(config, split))]


def write_heldout(directory: Path, n: int = 10) -> tuple[Path, Path]:
    items = generate_heldout(n=n, seed=1)
    gen, mc = directory / "heldout.jsonl", directory / "heldout_mc.jsonl"
    write_jsonl(gen, items)
    write_jsonl(mc, heldout_multiple_choice(items, seed=1))
    return gen, mc


def write_mmlu(root: Path) -> None:
    header = ["question", "choice0", "choice1", "choice2", "choice3", "answer"]
    for split, n in (("dev", 3), ("test", 4)):
        for subject in ("anatomy", "world_religions"):
            (root / split).mkdir(parents=True, exist_ok=True)
            with open(root / split / f"{subject}_{split}.csv", "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(header)
                writer.writerows([f"{subject} {split} q{i}, with comma", "a", "b", "c", "d", i % 4]
                                 for i in range(n))


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    gen, mc = write_heldout(tmp_path)
    write_jsonl(tmp_path / "gsm8k.jsonl", GSM8K)
    write_mmlu(tmp_path / "mmlu")
    (tmp_path / "mc_task.json").write_text(json.dumps(TRUTHFULQA))
    names = write_task_folder(
        tmp_path / "tasks", heldout={"demo": (str(gen), str(mc))},
        local_tasks={
            "gsm": {"kind": "gsm8k", "path": str(tmp_path / "gsm8k.jsonl"), "limit": 2,
                    "num_fewshot": 1},
            "mmlu": {"kind": "mmlu", "path": str(tmp_path / "mmlu"), "limit": 3,
                     "num_fewshot": 2},
            "tqa": {"kind": "truthfulqa_mc2", "path": str(tmp_path / "mc_task.json"),
                    "limit": None, "num_fewshot": 0},
        },
        hub_tasks=[{"task": "arc_challenge", "num_fewshot": 25},
                   {"task": "hellaswag", "num_fewshot": None}],
        max_gen_toks=16)
    assert names == ["demo_heldout_gen", "demo_heldout_mc", "gsm", "mmlu", "tqa", "sieve_hub"]
    return tmp_path / "tasks"


def test_task_folder_lists_tasks_and_loads_data_by_absolute_path(task_dir):
    listing = json.loads((task_dir / TASKS_FILE).read_text())
    assert listing == {"tasks": ["demo_heldout_gen", "demo_heldout_mc", "gsm", "mmlu", "tqa",
                                 "sieve_hub"], "hub_tasks": ["arc_challenge", "hellaswag"],
                       "protocol": None, "passes": []}
    configs = load_tasks(task_dir)
    for config in configs.values():
        assert config["metadata"] == {"version": 1.0}
        if "dataset_kwargs" in config:
            assert config["dataset_path"] == "json" and config["test_split"] == "test"
            for split in config["dataset_kwargs"]["data_files"]:
                data_file(config, split)
    assert configs["sieve_hub"]["task"] == [{"task": "arc_challenge", "num_fewshot": 25},
                                            "hellaswag"]


def test_heldout_tasks(task_dir):
    configs = load_tasks(task_dir)
    gen, mc = configs["demo_heldout_gen"], configs["demo_heldout_mc"]
    assert gen["output_type"] == "generate_until" and gen["doc_to_text"] == "{{question}}"
    assert gen["doc_to_target"] == "{{answer}}"
    assert "\n" in gen["generation_kwargs"]["until"]
    assert gen["generation_kwargs"]["max_gen_toks"] == 16
    [metric] = gen["metric_list"]
    assert metric["metric"] == "exact_match" and metric["ignore_case"]
    assert metric["ignore_punctuation"]
    [strip] = gen["filter_list"]
    assert [f["function"] for f in strip["filter"]] == ["remove_whitespace", "take_first"]
    assert [d["answer"] for d in docs(gen)] == [i["answer"] for i in generate_heldout(10, 1)]
    assert mc["output_type"] == "multiple_choice" and mc["doc_to_target"] == "label"
    assert [m["metric"] for m in mc["metric_list"]] == ["acc", "acc_norm"]
    assert {"question", "choices", "label"} <= set(docs(mc)[0])


def test_gsm8k_task_keeps_fewshot_examples_out_of_the_test_docs(task_dir):
    gsm = load_tasks(task_dir)["gsm"]
    assert [d["answer"] for d in docs(gsm, "fewshot")] == ["14"]
    assert [d["answer"] for d in docs(gsm)] == ["1200", "2400"]  # limit 2, commas removed
    assert gsm["num_fewshot"] == 1 and gsm["fewshot_split"] == "fewshot"
    assert gsm["fewshot_config"] == {"sampler": "first_n", "doc_to_target": "{{solution}}"}
    assert [f["name"] for f in gsm["filter_list"]] == ["strict", "flexible"]
    assert gsm["generation_kwargs"]["max_gen_toks"] == 256


def test_mmlu_is_a_group_of_subjects_with_dev_fewshot(task_dir):
    configs = load_tasks(task_dir)
    group = configs["mmlu"]
    assert group["task"] == ["mmlu_anatomy", "mmlu_world_religions"]
    assert group["aggregate_metric_list"] == [{"metric": "acc", "aggregation": "mean",
                                               "weight_by_size": True}]
    anatomy = configs["mmlu_anatomy"]
    assert docs(anatomy)[0] == {"question": "anatomy test q0, with comma",
                                "choices": ["a", "b", "c", "d"], "answer": 0}
    assert len(docs(anatomy)) == 3 and len(docs(anatomy, "dev")) == 2
    assert anatomy["fewshot_split"] == "dev" and anatomy["num_fewshot"] == 2
    assert anatomy["doc_to_choice"] == ["A", "B", "C", "D"]
    assert "about anatomy." in anatomy["description"]


def test_truthfulqa_task_scores_with_the_written_mc2_function(task_dir):
    tqa = load_tasks(task_dir)["tqa"]
    assert tqa["process_results"] == "!function sieve_process.truthfulqa_mc2"
    assert tqa["metric_list"] == [{"metric": "mc2", "aggregation": "mean",
                                   "higher_is_better": True}]
    doc = docs(tqa)[0]
    assert doc["choices"] == ["No", "No, it is blue", "Yes"] and doc["labels"] == [1, 1, 0]
    spec = importlib.util.spec_from_file_location("sieve_process", task_dir / "sieve_process.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = [(math.log(0.5), True), (math.log(0.25), False), (math.log(0.25), False)]
    assert module.truthfulqa_mc2(doc, results) == {"mc2": pytest.approx(0.75)}


def test_truthfulqa_mc2_by_hand():
    doc = {"labels": [1, 0, 0]}
    # p = (2, 1, 1) up to a constant: true mass 2 / 4.
    assert truthfulqa_mc2(doc, [(math.log(2), True), (0.0, False), (0.0, False)])["mc2"] == \
        pytest.approx(0.5)
    # Far below exp's range, only the ratios count: (1, 1/3) -> 1 / (4/3).
    low = [(-1000.0, True), (-1000.0 - math.log(3), False)]
    assert truthfulqa_mc2({"labels": [1, 0]}, low)["mc2"] == pytest.approx(0.75)


def test_gsm8k_answer_extraction():
    assert gsm8k_answer("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18") == "18"
    assert gsm8k_answer("...\n#### 1,234\n") == "1234"
    assert gsm8k_answer("#### -5") == "-5"
    with pytest.raises(ValueError, match="####"):
        gsm8k_answer("The answer is 18.")


def test_bad_local_files_name_the_file(tmp_path):
    bad = tmp_path / "gsm8k.jsonl"
    write_jsonl(bad, [GSM8K[0], {"question": "q", "answer": "no final line"}])
    spec = {"kind": "gsm8k", "path": str(bad), "limit": None, "num_fewshot": 0}
    with pytest.raises(DataError, match=r"gsm8k\.jsonl:2: not a GSM8K record"):
        write_task_folder(tmp_path / "t", heldout={}, local_tasks={"g": spec}, hub_tasks=[],
                          max_gen_toks=8)
    with pytest.raises(UserError, match="no lm-eval tasks"):
        write_task_folder(tmp_path / "t", heldout={}, local_tasks={}, hub_tasks=[],
                          max_gen_toks=8)


def test_tidy_metrics_of_an_lmeval_results_file():
    tidy = tidy_metrics(RAW_RESULTS, "base-tiny")
    assert tidy.run == "base-tiny" and tidy.evaluator == "lmeval"
    rows = {(r["benchmark"], r["metric"]): r for r in tidy.to_json()["metrics"]}
    assert list(rows) == [("demo_heldout_gen", "exact_match_strip"),
                          ("gsm8k", "exact_match_strict"), ("gsm8k", "exact_match_flexible"),
                          ("mmlu", "acc"), ("mmlu_anatomy", "acc"), ("mmlu_virology", "acc")]
    assert rows["gsm8k", "exact_match_flexible"] == {
        "benchmark": "gsm8k", "metric": "exact_match_flexible", "value": 0.5, "stderr": 0.5,
        "n": 2, "higher_is_better": True}
    assert rows["mmlu", "acc"]["stderr"] is None and rows["mmlu", "acc"]["n"] == 3


def test_numbers_lmeval_could_not_compute_are_null():
    raw = json.loads(json.dumps(RAW_RESULTS))
    raw["results"]["gsm8k"]["exact_match,strict"] = math.nan
    raw["results"]["gsm8k"]["exact_match_stderr,flexible"] = math.inf
    rows = {(r.benchmark, r.metric): r for r in tidy_metrics(raw, "base-tiny").rows}
    assert (rows["gsm8k", "exact_match_strict"].value, rows["gsm8k", "exact_match_strict"].stderr,
            rows["gsm8k", "exact_match_strict"].n) == (None, 0.0, 2)
    assert (rows["gsm8k", "exact_match_flexible"].value,
            rows["gsm8k", "exact_match_flexible"].stderr) == (0.5, None)


def test_lmeval_command_line(tmp_path):
    cmd = lmeval_command("py", "m", "t", ["a", "b"], "o", device="cuda", batch_size=4, limit=5)
    assert cmd[:5] == ["py", "-m", "lm_eval", "run", "--model"]
    assert cmd[cmd.index("--model_args") + 1].endswith("/m,dtype=bfloat16")
    assert cmd[cmd.index("--tasks") + 1] == "a,b"
    assert cmd[cmd.index("--limit") + 1] == "5" and "--apply_chat_template" in cmd
    plain = lmeval_command("py", "m", "t", ["a"], "o", apply_chat_template=False)
    assert "--confirm_run_unsafe_code" not in plain
    assert lmeval_command("py", "m", "t", ["a"], "o",
                          confirm_run_unsafe_code=True)[-1] == "--confirm_run_unsafe_code"
    assert "--apply_chat_template" not in plain and "--limit" not in plain
    assert "dtype=float32" in plain[plain.index("--model_args") + 1]


def test_run_lmeval_failures_name_the_log(task_dir, tmp_path):
    out = tmp_path / "eval"
    kwargs = {"run": "r", "results": out / "results.json", "metrics": out / "metrics.json",
              "manifest": out / "manifest.json", "python": sys.executable}
    with open(tmp_path / "job.log", "w") as log, pytest.raises(UserError, match="hub"):
        run_lmeval(tmp_path, task_dir, log=log, offline=True, **kwargs)
    with open(tmp_path / "job.log", "w") as log, pytest.raises(UserError, match=r"job\.log"):
        run_lmeval(tmp_path, task_dir, log=log, offline=False, **kwargs)  # no lm_eval here
    assert "No module named lm_eval" in (tmp_path / "job.log").read_text()


@pytest.mark.skipif(not SHARED_EVAL.is_dir(), reason="shared real eval data is absent")
def test_real_benchmark_files(tmp_path):
    write_task_folder(tmp_path, heldout={}, hub_tasks=[], max_gen_toks=8, local_tasks={
        "gsm8k": {"kind": "gsm8k", "path": str(SHARED_EVAL / "gsm8k" / "test.jsonl"),
                  "limit": None, "num_fewshot": 5},
        "mmlu": {"kind": "mmlu", "path": str(SHARED_EVAL / "mmlu"), "limit": None,
                 "num_fewshot": 5},
        "tqa": {"kind": "truthfulqa_mc2", "path": str(SHARED_EVAL / "truthfulqa" / "mc_task.json"),
                "limit": None, "num_fewshot": 0}})
    configs = load_tasks(tmp_path)
    assert len(docs(configs["gsm8k"])) == 1319 - 5
    assert len(configs["mmlu"]["task"]) == 57
    assert sum(len(docs(configs[t])) for t in configs["mmlu"]["task"]) == 14042
    assert all(len(docs(configs[t], "dev")) == 5 for t in configs["mmlu"]["task"])
    assert len(docs(configs["tqa"])) == 790


@pytest.mark.slow
@pytest.mark.skipif(not TOOLS_PYTHON.exists(), reason="no .venv-tools (make tools)")
def test_real_lmeval_run_on_a_tiny_model(tmp_path):
    from workflow_lib.models.identity import model_identity
    from workflow_lib.models.tiny import build_tiny_model, synthetic_texts

    model = build_tiny_model(tmp_path / "model", synthetic_texts())
    gen, mc = write_heldout(tmp_path)
    write_task_folder(tmp_path / "tasks", heldout={"demo": (gen, mc)}, local_tasks={},
                      hub_tasks=[], max_gen_toks=4)
    out = tmp_path / "eval"
    with open(tmp_path / "job.log", "w") as log:
        tidy = run_lmeval(model, tmp_path / "tasks", run="base-tiny", log=log,
                          results=out / "results.json", metrics=out / "metrics.json",
                          manifest=out / "manifest.json",
                          python=str(TOOLS_PYTHON), limit=5, batch_size=4)
    assert read_metrics(out / "metrics.json") == tidy
    assert "demo_heldout_gen" in json.loads((out / "results.json").read_text())["results"]
    assert {(r.benchmark, r.metric) for r in tidy.rows} == {
        ("demo_heldout_gen", "exact_match_strip"), ("demo_heldout_mc", "acc"),
        ("demo_heldout_mc", "acc_norm")}
    for row in tidy.rows:
        assert 0.0 <= row.value <= 1.0 and row.n == 5 and row.higher_is_better
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == model_identity(model) and manifest["run"] == "base-tiny"
    assert manifest["inputs"]["tasks"]["sha256"] and "--model_args" in manifest["command"]
