"""eval.lmeval.protocol iterit_open_instruct: IterIT's eval_scripts/ columns as lm-eval tasks -
the rendered task folder (shots, seeded samples, HumanEval's sampling, which tasks use the chat
template), the two lm-eval calls of a run, and the unsafe-code stop. Rendering only: the hub's
datasets are not reachable here, so no task is run on a model."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys

import pytest
import yaml

from tests.support import ROOT, load_config
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError
from workflow_lib.evaluate.lmeval.run import run_lmeval
from workflow_lib.evaluate.lmeval.tasks import HUB_GROUP, HUB_GROUPS, TASKS_FILE, write_task_folder
from workflow_lib.evaluate.metrics import read_metrics
from workflow_lib.evaluate.registry import EVALUATORS

PROTOCOL = "iterit_open_instruct"
LMEVAL = EVALUATORS["lmeval"]


def iterit_config(**lmeval) -> dict:
    """The tiny config with IterIT's protocol (HumanEval confirmed) and `lmeval` settings."""
    config = load_config("tiny")
    config["eval"]["bpc"]["corpora"] = []
    config["eval"]["lmeval"].update({"protocol": PROTOCOL, "confirm_run_unsafe_code": True,
                                     **lmeval})
    return config


def written_folder(tmp_path, config: dict):
    """The task folder of `config`'s lm-eval settings; its groups' YAML and its listing."""
    write_task_folder(tmp_path / "tasks", heldout={}, **LMEVAL.setting(config, "tasks"))
    groups = {path.stem: yaml.load(path.read_text(), Loader=yaml.BaseLoader)
              for path in (tmp_path / "tasks").glob("sieve_hub*.yaml")}
    return groups, json.loads((tmp_path / "tasks" / TASKS_FILE).read_text())


def test_open_instruct_tasks_render_their_shots_samples_and_chat_template(tmp_path):
    config = validate_config(iterit_config())
    groups, listing = written_folder(tmp_path, config)
    chat = {e["task"]: e for e in groups[HUB_GROUP]["task"]}
    assert list(chat) == ["gsm8k_cot", "bbh_cot_fewshot", "mmlu", "truthfulqa_mc1",
                          "truthfulqa_mc2"]
    assert {t: e["num_fewshot"] for t, e in chat.items()} == {
        "gsm8k_cot": "8", "bbh_cot_fewshot": "3", "mmlu": "0", "truthfulqa_mc1": "0",
        "truthfulqa_mc2": "0"}
    # 200 GSM8K items, 40 per BBH task: a seeded draw (process_docs), not lm-eval's one --limit.
    text = (tmp_path / "tasks" / f"{HUB_GROUP}.yaml").read_text()
    assert "process_docs: !function 'sieve_process.sample_200'" in text
    assert "process_docs: !function 'sieve_process.sample_40'" in text
    assert chat["gsm8k_cot"]["generation_kwargs"]["max_gen_toks"] == "512"
    # open-instruct's --use_chat_format: the run's chat template, few-shot in one user turn.
    assert LMEVAL.setting(config, "apply_chat_template") is True
    assert listing["tasks"] == [HUB_GROUP] and listing["protocol"] == PROTOCOL
    assert listing["passes"] == [{"tasks": [HUB_GROUPS[False]], "apply_chat_template": False}]


def test_humaneval_arc_and_hellaswag_render_without_a_chat_template(tmp_path):
    groups, _ = written_folder(tmp_path, validate_config(iterit_config()))
    plain = {e["task"]: e for e in groups[HUB_GROUPS[False]]["task"]}
    assert list(plain) == ["humaneval", "arc_challenge", "hellaswag"]
    assert (plain["arc_challenge"]["num_fewshot"], plain["hellaswag"]["num_fewshot"]) == ("25",
                                                                                          "10")
    humaneval = plain["humaneval"]
    assert humaneval["repeats"] == "5"  # n = 5 samples per problem for pass@1
    assert {k: humaneval["generation_kwargs"][k] for k in
            ("do_sample", "temperature", "top_p", "max_gen_toks")} == {
        "do_sample": "true", "temperature": "0.1", "top_p": "0.95", "max_gen_toks": "512"}


def test_the_seeded_sample_draws_the_items_open_instruct_draws(tmp_path):
    write_task_folder(tmp_path / "tasks", heldout={},
                      **LMEVAL.setting(validate_config(iterit_config()), "tasks"))
    spec = importlib.util.spec_from_file_location("sieve_process",
                                                  tmp_path / "tasks" / "sieve_process.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Docs(list):
        """The part of a datasets.Dataset that process_docs uses."""

        def select(self, indices):
            return Docs(self[i] for i in indices)

    docs = Docs(f"question {i}" for i in range(1319))
    random.seed(42)  # eval/gsm/run_eval.py: random.seed(42); random.sample(test_data, 200)
    assert module.sample_200(docs) == random.sample(list(docs), 200)
    assert module.sample_40(Docs(range(30))) == list(range(30))  # fewer: all of them


FAKE_LMEVAL = """import json, os, sys
out = sys.argv[sys.argv.index("--output_path") + 1]
tasks = sys.argv[sys.argv.index("--tasks") + 1]
with open(os.environ["FAKE_LOG"], "a") as fh:
    fh.write(json.dumps(sys.argv) + "\\n")
os.makedirs(os.path.join(out, "model"))
with open(os.path.join(out, "model", "results_1.json"), "w") as fh:
    fh.write(json.dumps(json.loads(os.environ["FAKE_RESULTS"])[tasks]))
"""


def fake_results(task: str, metric: str, value: float) -> dict:
    """lm-eval's results JSON (trimmed) for one task."""
    return {"results": {task: {f"{metric},none": value}}, "group_subtasks": {task: []},
            "higher_is_better": {task: {metric: True}},
            "n-samples": {task: {"original": 10, "effective": 10}}}


def test_a_run_calls_lmeval_once_with_and_once_without_the_chat_template(tmp_path, monkeypatch):
    config = validate_config(iterit_config())
    write_task_folder(tmp_path / "tasks", heldout={}, **LMEVAL.setting(config, "tasks"))
    (tmp_path / "lm_eval").mkdir()
    (tmp_path / "lm_eval" / "__main__.py").write_text(FAKE_LMEVAL)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_RESULTS", json.dumps({
        HUB_GROUP: fake_results("mmlu", "acc", 0.5),
        HUB_GROUPS[False]: fake_results("arc_challenge", "acc_norm", 0.6)}))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    out = tmp_path / "eval"
    with open(tmp_path / "job.log", "w") as log:
        run_lmeval(tmp_path / "model", tmp_path / "tasks", run="r", results=out / "results.json",
                   metrics=out / "metrics.json", manifest=out / "manifest.json", log=log,
                   python=sys.executable, offline=False, confirm_run_unsafe_code=True,
                   apply_chat_template=LMEVAL.setting(config, "apply_chat_template"))
    chat, plain = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert chat[chat.index("--tasks") + 1] == HUB_GROUP and "--apply_chat_template" in chat
    assert chat[chat.index("--fewshot_as_multiturn") + 1] == "false"
    assert plain[plain.index("--tasks") + 1] == HUB_GROUPS[False]
    assert "--apply_chat_template" not in plain and "--confirm_run_unsafe_code" in plain
    rows = {(r.benchmark, r.metric): r.value for r in read_metrics(out / "metrics.json").rows}
    # Both calls' rows; no average (IterIT's includes MixEval-Hard, which is not run).
    assert rows == {("mmlu", "acc"): 0.5, ("arc_challenge", "acc_norm"): 0.6}
    assert set(json.loads((out / "results.json").read_text())["results"]) == {"mmlu",
                                                                              "arc_challenge"}


def test_humaneval_without_the_confirmation_fails_validation_with_one_line():
    with pytest.raises(ConfigError) as err:
        validate_config(iterit_config(confirm_run_unsafe_code=False))
    assert str(err.value).splitlines()[1:] == [
        "  eval.lmeval.confirm_run_unsafe_code: false, but humaneval execute(s) model-written "
        "code; set it to true (in a sandbox) or remove them"]
    # Without HumanEval (protocol_tasks) nothing runs model-written code.
    validate_config(iterit_config(confirm_run_unsafe_code=False,
                                  protocol_tasks=["gsm8k_cot", "mmlu"]))


def test_the_recipe_without_the_confirmation_stops_before_any_job(tmp_path):
    recipe = (ROOT / "configs" / "iterit-llama3.yaml").read_text()
    assert "confirm_run_unsafe_code: true" in recipe
    (tmp_path / "recipe.yaml").write_text(recipe.replace("confirm_run_unsafe_code: true",
                                                         "confirm_run_unsafe_code: false"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile",
                           str(ROOT / "Snakefile"), "-n", "--cores", "1", "--configfile",
                           str(tmp_path / "recipe.yaml")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert [line for line in output.splitlines() if "eval.lmeval." in line] == [
        "  eval.lmeval.confirm_run_unsafe_code: false, but humaneval execute(s) model-written "
        "code; set it to true (in a sandbox) or remove them"]
    assert "rule " not in output and "Job stats" not in output


@pytest.mark.parametrize("lmeval, message", [
    ({"protocol": "iterit"},
     "eval.lmeval.protocol: 'iterit' is not a protocol of Sieve's lm-eval "
     "(protocols: open_llm_v1, iterit_open_instruct)"),
    ({"apply_chat_template": False},
     "eval.lmeval.apply_chat_template: iterit_open_instruct sets it to true; leave it unset"),
    ({"protocol_tasks": ["mbpp"]},
     "eval.lmeval.protocol_tasks: mbpp not in iterit_open_instruct (gsm8k_cot, "
     "bbh_cot_fewshot, mmlu, truthfulqa_mc1, truthfulqa_mc2, humaneval, arc_challenge, "
     "hellaswag)"),
])
def test_bad_iterit_settings_fail_validation_with_one_line(lmeval, message):
    with pytest.raises(ConfigError) as err:
        validate_config(iterit_config(**lmeval))
    assert str(err.value).splitlines()[1:] == [f"  {message}"]


# Loads a task folder's groups with lm-eval's TaskManager, every dataset replaced by 1,319
# (GSM8K) or 250 made-up documents and the code_eval metric by a stub (the hub is not
# reachable), and prints each task's settings as lm-eval sees them, one JSON line each.
LOAD_TASKS = """import json, sys
import datasets, evaluate
evaluate.load = lambda *a, **k: type("CodeEval", (), {"compute": lambda self, **kw: [{}]})()
from lm_eval.api import task as task_mod
from lm_eval.tasks import TaskManager, get_task_dict

def fake_download(self, dataset_kwargs=None, **kw):
    path = str(self.config.dataset_path)
    n = 1319 if "gsm8k" in path else 250
    choices = {"text": ["a", "b"], "label": ["A", "B"]} if "arc" in path else list("abcd")
    rows = [{"question": f"q{i}", "answer": f"#### {i}" if "gsm8k" in path else 0,
             "input": f"q{i}", "target": "t", "prompt": "", "test": "", "entry_point": "f",
             "choices": choices, "mc1_targets": {"choices": ["a", "b"], "labels": [1, 0]},
             "mc2_targets": {"choices": ["a", "b"], "labels": [1, 0]}, "answerKey": "A",
             "ctx": "c", "ctx_a": "c", "ctx_b": "d", "endings": list("abcd"), "label": "0",
             "activity_label": "x", "id": str(i)} for i in range(n)]
    ds = datasets.Dataset.from_list(rows)
    self.dataset = datasets.DatasetDict({s: ds for s in ("test", "validation", "train", "dev")})

task_mod.ConfigurableTask.download = fake_download
manager = TaskManager(include_path=sys.argv[1])

def walk(tree):
    for value in tree.values():
        if isinstance(value, dict):
            walk(value)
        else:
            c = value.config
            print(json.dumps({"task": c.task, "shots": c.num_fewshot, "repeats": c.repeats,
                              "gen": c.generation_kwargs, "docs": len(value.eval_docs),
                              "first": value.eval_docs[0]["question"]}))

walk(get_task_dict(sys.argv[2:], manager))
"""


def test_lmeval_loads_the_rendered_tasks_with_their_settings(tmp_path):
    tools = ROOT / ".venv-tools" / "bin" / "python"
    if not tools.exists():
        pytest.skip("needs lm-eval in .venv-tools (make tools)")
    write_task_folder(tmp_path / "tasks", heldout={},
                      **LMEVAL.setting(validate_config(iterit_config()), "tasks"))
    proc = subprocess.run([str(tools), "-c", LOAD_TASKS, str(tmp_path / "tasks"), HUB_GROUP,
                           HUB_GROUPS[False]], cwd=tmp_path, capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                               "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    tasks = {t["task"]: t for t in map(json.loads, proc.stdout.splitlines())}
    gsm8k, humaneval = tasks["gsm8k_cot"], tasks["humaneval"]
    first = random.Random(42).sample(range(1319), 200)[0]
    assert (gsm8k["shots"], gsm8k["docs"], gsm8k["first"]) == (8, 200, f"q{first}")
    assert gsm8k["gen"]["max_gen_toks"] == 512
    bbh = [t for name, t in tasks.items() if name.startswith("bbh_cot_fewshot_")]
    assert len(bbh) == 27 and {(t["shots"], t["docs"]) for t in bbh} == {(3, 40)}
    mmlu = [t for name, t in tasks.items() if name.startswith("mmlu_")]
    assert len(mmlu) == 57 and {(t["shots"], t["docs"]) for t in mmlu} == {(0, 250)}
    assert (tasks["truthfulqa_mc1"]["shots"], tasks["truthfulqa_mc2"]["shots"]) == (0, 0)
    assert (humaneval["repeats"], humaneval["gen"]["temperature"], humaneval["gen"]["top_p"],
            humaneval["gen"]["do_sample"]) == (5, 0.1, 0.95, True)
    assert (tasks["arc_challenge"]["shots"], tasks["hellaswag"]["shots"]) == (25, 10)
