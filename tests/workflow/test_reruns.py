"""Partial reruns and resumption: a named target builds only its upstream jobs, a run killed in
the middle of training completes with --rerun-incomplete and ends identical to an uninterrupted
run, a changed parameter reruns exactly its downstream jobs, and an edited description reruns
nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, SNAKEMAKE, planned_jobs, snakemake, write_config
from tests.support.run_outputs import copy_run, deterministic_outputs
from workflow_lib.config.params import DOC_FIELDS
from workflow_lib.config.validate import load_schema
from workflow_lib.core import paths

KILLED_RUN = "demo-random-10-tiny"


def test_named_target_builds_only_its_upstream_jobs(tiny_run, tmp_path):
    copy_run(tiny_run, tmp_path, items=("config.yaml", "corpus.jsonl"))
    proc = snakemake(tmp_path, "select_all")
    assert planned_jobs(proc) == {"generate_demo_pool": 1, "convert_pool": 1,
                                  "select": 2, "selection_table": 1,
                                  "selection_plots": 1, "select_all": 1}
    assert not (tmp_path / "resources/models").exists()
    assert not (tmp_path / "results/eval").exists()
    # The rest of the pipeline reuses what the target built, and a file target plans only its
    # own upstream (the tiny model needs the pool for its tokenizer).
    plan = planned_jobs(snakemake(tmp_path, "-n"))
    assert not {"generate_demo_pool", "convert_pool", "select"} & set(plan)
    assert plan["train"] == 2
    plan = planned_jobs(snakemake(tmp_path, "-n", "results/eval/base-tiny/bpc/metrics.json"))
    assert plan == {"prepare_model": 1, "prepare_corpus": 1, "bpc": 1, "bpc_metrics": 1}


def wait_for_training_step(proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    """Return once the training job's log shows a finished optimizer step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and "{'loss': " in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended (rc {proc.returncode}) before training logged a step")
        time.sleep(0.2)
    pytest.fail(f"no training step in {log} after {timeout} s")


@pytest.mark.slow
def test_run_killed_during_training_completes_identical_to_an_uninterrupted_run(tiny_run,
                                                                                 tmp_path):
    copy_run(tiny_run, tmp_path)
    shutil.rmtree(tmp_path / "results/models" / KILLED_RUN)
    log = tmp_path / "logs/train" / f"{KILLED_RUN}.log"
    cmd = [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile",
           str(tmp_path / "config.yaml"), "--workflow-profile", str(ROOT / "profiles/default"),
           "--cores", "2"]
    # Its own process group, as a terminal would: the kill takes Snakemake and its jobs at once.
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_training_step(proc, log)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (tmp_path / "results/models" / KILLED_RUN / "manifest.json").exists()

    locked = snakemake(tmp_path, check=False)  # the killed Snakemake left its lock behind
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(tmp_path, "--unlock")
    proc = snakemake(tmp_path, "--rerun-incomplete")
    jobs = planned_jobs(proc)
    assert jobs["train"] == 1 and jobs["lmeval"] == 1 and jobs["bpc"] == 1, jobs
    done = snakemake(tmp_path, "-n")
    assert "Nothing to be done" in done.stdout + done.stderr
    resumed, reference = deterministic_outputs(tmp_path), deterministic_outputs(tiny_run)
    assert f"results/models/{KILLED_RUN}/model.safetensors" in reference
    assert set(resumed) == set(reference)
    assert [name for name in reference if resumed[name] != reference[name]] == []


CHANGES = {
    # key path: (new value, jobs that rerun besides the report and `all`, a name no rerun output
    # may contain)
    "methods.random.seed": (7, {"select": 1, "selection_table": 1,
                                "selection_plots": 1, "train": 1, "lmeval": 1, "bpc": 1,
                                "bpc_metrics": 1, "mtbench_answers": 1, "mtbench_judge": 1},
                            "longest"),
    "train.learning_rate": (2.0e-3, {"train": 2, "lmeval": 2, "bpc": 2, "bpc_metrics": 2,
                                     "mtbench_answers": 2, "mtbench_judge": 2}, "base-tiny"),
    "eval.bpc.stride": (4, {"bpc": 3, "bpc_metrics": 3}, "results/models"),
    "eval.lmeval.max_gen_toks": (4, {"lmeval_tasks": 1, "lmeval": 3}, "results/models"),
}
REPORT_JOBS = {"collect_metrics": 1, "tables": 1, "costs": 1, "bpc_plots": 1,
               "entropy_law_plot": 1, "all": 1}


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CHANGES))
def test_changed_parameter_reruns_exactly_its_downstream(tiny_run, tmp_path, key):
    value, expected, untouched = CHANGES[key]
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    *parents, leaf = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[leaf] = value
    copy_run(tiny_run, tmp_path,
             items=("corpus.jsonl", "results", "resources", ".snakemake"))
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "-n")
    assert planned_jobs(proc) == {**expected, **REPORT_JOBS}
    outputs = [line.split(":", 1)[1].strip() for line in (proc.stdout + proc.stderr).splitlines()
               if line.strip().startswith("output:")]
    assert not [output for output in outputs if untouched in output]


def documented_sections() -> list[str]:
    """The config's sections of named entries whose schema has documentation fields."""
    schema = load_schema()
    sections = []
    for name, section in schema["properties"].items():
        entry = section.get("additionalProperties")
        if isinstance(entry, dict) and "$ref" in entry:
            fields = schema["$defs"][entry["$ref"].removeprefix("#/$defs/")]["properties"]
            sections += [name] if DOC_FIELDS & set(fields) else []
    return sections


@pytest.mark.slow
def test_documentation_edits_rerun_nothing(tmp_path):
    """The demo's pools, models, corpora and file selections, built; then every documentation
    field of every entry rewritten (added where the entry has none): nothing to be done."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    write_config(tmp_path, config)
    selections = [paths.fill(paths.SELECTION_DATA, pool="demo", method=method, budget="60")
                  for method in ("random", "longest", "zip")]
    targets = ("pools", "models", "corpora", *selections)
    snakemake(tmp_path, *targets)
    sections = documented_sections()
    assert sections == ["pools", "models", "corpora", "methods"]
    for section in sections:
        for entry in config[section].values():
            for field in DOC_FIELDS:
                entry[field] = f"{entry.get(field, 'A')} (edited)"
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "-n", *targets)
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
