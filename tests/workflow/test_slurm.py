"""Cluster execution: every rule declares what a scheduler needs, and the tiny chain runs for real
through `sbatch` on a private two-node Slurm on this host (tests/workflow/slurm/local_slurm.sh)
with profiles/slurm, producing the same outputs as the local run; a training job spans both
nodes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, SNAKEMAKE, planned_jobs, write_config
from tests.support.run_outputs import copy_run, deterministic_outputs

PROFILE = ROOT / "profiles" / "slurm"
LOCAL_SLURM = ROOT / "tests" / "workflow" / "slurm" / "local_slurm.sh"
# Rules that only move small files or draw tables and plots: never worth a queue wait.
EXPECTED_LOCAL = {"download_pool", "prepare_corpus", "lmeval_tasks", "bpc_metrics",
                  "collect_metrics", "tables", "costs", "bpc_plots", "entropy_law_plot",
                  "mtbench_data", "pairwise_data", "pairwise_metrics", "pairwise_plot",
                  "alpaca_eval_data", "selection_table", "selection_plots"}
GPU_RULES = {"train", "lmeval", "bpc", "mtbench_answers", "pairwise_answers", "alpaca_eval_answers",
             "train_iterit", "ifd_score_shard"}

# Loads the workflow through Snakemake's API (in a child process: the API changes directory and
# sets up logging) and prints, per rule, its declared resources and whether it runs locally.
RULES_PROBE = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

root, workdir, config = map(Path, sys.argv[1:])
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=root / "Snakefile",
                            config_settings=ConfigSettings(configfiles=[config]),
                            workdir=workdir)._workflow
    rules = {rule.name: {"resources": {k: None if v.is_evaluable() else v.value
                                       for k, v in rule.resources.items()
                                       if not k.startswith("_")},
                         "local": rule.name in workflow._localrules, "norun": rule.norun}
             for rule in workflow.rules}
print("RULES=" + json.dumps(rules))
"""


def declared_rules(tmp_path: Path, config: dict) -> dict[str, dict]:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-c", RULES_PROBE, str(ROOT), str(tmp_path),
                           str(tmp_path / "config.yaml")],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RULES=")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line.removeprefix("RULES="))


@pytest.fixture(scope="module")
def demo_rules(tmp_path_factory) -> dict[str, dict]:
    return declared_rules(tmp_path_factory.mktemp("rules"),
                          yaml.safe_load((ROOT / "config.yaml").read_text()))


def test_every_submitted_rule_declares_memory_and_runtime(demo_rules):
    submitted = {name: rule for name, rule in demo_rules.items()
                 if not rule["local"] and not rule["norun"]}
    assert submitted
    missing = {name: sorted({"mem_mb", "runtime"} - set(rule["resources"]))
               for name, rule in submitted.items()}
    assert {name: keys for name, keys in missing.items() if keys} == {}, (
        "rules a cluster runs need `resources: mem_mb=..., runtime=...` (or `localrules:`)")


def test_small_file_rules_are_local_and_aggregates_run_nothing(demo_rules):
    local = {name for name, rule in demo_rules.items() if rule["local"]}
    assert local >= EXPECTED_LOCAL
    assert local.isdisjoint(GPU_RULES | {"train", "prepare_model", "select"})
    norun = {name for name, rule in demo_rules.items() if rule["norun"]}
    assert norun == {"all", "pools", "corpora", "models", "select_all", "selection_report",
                     "train_all", "eval_all", "mtbench_all", "pairwise_all", "alpaca_eval_all"}


def test_gpu_rules_ask_for_a_gpu_only_when_train_device_is_gpu(demo_rules, tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["train"]["device"] = "gpu"
    on_gpu = declared_rules(tmp_path, config)
    for name in GPU_RULES:
        assert (demo_rules[name]["resources"]["gpu"], on_gpu[name]["resources"]["gpu"]) == (0, 1)
    assert {name for name, rule in on_gpu.items() if rule["resources"].get("gpu")} == GPU_RULES


def test_profile_resources_name_existing_rules(demo_rules):
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "squeue"
    for section in ("set-resources", "set-threads"):
        assert set(profile[section]) <= set(demo_rules), section
    assert all(not rule["local"] for name, rule in demo_rules.items()
               if name in profile["set-resources"])
    partitions = yaml.safe_load((PROFILE / "partitions.yaml").read_text())["partitions"]
    assert partitions["gpu"]["max_gpu"] >= 1 and "max_gpu" not in partitions["cpu"]


@pytest.fixture(scope="module")
def local_slurm():
    """A running two-node Slurm started by tests/workflow/slurm/local_slurm.sh (stopped
    afterwards), or a skip that says why there is none."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM test needs root: it installs and starts munged, slurmctld, slurmd")
    start = time.monotonic()
    proc = subprocess.run([str(LOCAL_SLURM), "start"], capture_output=True, text=True,
                          timeout=600, check=False)
    try:
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"no local Slurm: {reason}")
        yield time.monotonic() - start
    finally:
        subprocess.run([str(LOCAL_SLURM), "stop"], check=False, timeout=120)


def node_memory_mb() -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%m"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def single_node_overrides(profile: dict, mem_cap: int) -> list[str]:
    """The profile's set-resources with memory capped so that two jobs fit on one local node
    (a command-line --set-resources replaces the profile's whole map, so all of it is given)."""
    items = []
    for rule, resources in profile["set-resources"].items():
        for key, value in resources.items():
            items.append(f"{rule}:{key}={min(value, mem_cap) if key == 'mem_mb' else value}")
    return ["--set-resources", *items]


def submitted_jobs(workdir: Path) -> dict[str, list[int]]:
    """Slurm job ids per rule, from the plugin's logs: logs/slurm/rule_<rule>/.../<id>.log."""
    jobs: dict[str, list[int]] = {}
    for path in (workdir / "logs" / "slurm").glob("rule_*/**/*.log"):
        rule = path.relative_to(workdir / "logs" / "slurm").parts[0].removeprefix("rule_")
        jobs.setdefault(rule, []).append(int(path.stem))
    return jobs


def scontrol_job(job_id: int) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "--oneliner", str(job_id)],
                         capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


@pytest.mark.slow
def test_tiny_chain_through_sbatch_equals_the_local_run(local_slurm, tiny_run, tmp_path,
                                                       summary):
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    copy_run(tiny_run, tmp_path, items=("corpus.jsonl",))
    # The whole chain with one method of the two (9 jobs instead of 13, for CI time).
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    config["experiments"][0]["methods"] = ["random"]
    write_config(tmp_path, config)
    cmd = [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile",
           str(tmp_path / "config.yaml"), "--workflow-profile", str(PROFILE),
           "--slurm-partition-config", str(PROFILE / "partitions.yaml"),
           # threads as in the local run (same arithmetic, same bytes), memory for two jobs at
           # once on a node, status polls every few seconds
           "--max-threads", str(os.cpu_count()), "--slurm-init-seconds-before-status-checks", "5",
           *single_node_overrides(profile, node_memory_mb() // 2)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900,
                          check=False)
    wall = time.monotonic() - start
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    planned = planned_jobs(proc)
    jobs = submitted_jobs(tmp_path)
    expected = {rule: n for rule, n in planned.items()
                if rule not in EXPECTED_LOCAL and rule != "all"}
    assert {rule: len(ids) for rule, ids in jobs.items()} == expected
    for rule, ids in jobs.items():
        for job_id in ids:
            record = scontrol_job(job_id)
            assert record["JobState"] == "COMPLETED", (rule, record)
            assert record["Partition"] == "cpu", (rule, record)  # partitions.yaml: no GPU asked
            assert record["WorkDir"] == str(tmp_path)

    local, slurm = deterministic_outputs(tiny_run), deterministic_outputs(tmp_path)
    del slurm["results/tables/metrics.csv"]  # rows of one method instead of two
    assert len(slurm) == 10 and set(slurm) <= set(local), sorted(set(slurm) - set(local))
    assert [name for name in slurm if slurm[name] != local[name]] == []
    n_jobs = sum(len(ids) for ids in jobs.values())
    summary.append(f"SLURM: {n_jobs} jobs submitted through sbatch "
                   f"({', '.join(f'{r} x{len(i)}' for r, i in sorted(jobs.items()))}), "
                   f"all COMPLETED; outputs equal the local run's ({len(slurm)} files); "
                   f"cluster start {local_slurm:.0f} s, workflow {wall:.0f} s")


def test_multi_node_training_asks_for_nodes_one_task_per_node_and_gpus_per_node(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["train"].update(device="gpu", distributed={"nodes": 2, "gpus_per_node": 8,
                                                      "strategy": "deepspeed_zero2"})
    rules = declared_rules(tmp_path, config)
    for name in ("train", "train_iterit"):
        resources = rules[name]["resources"]
        assert {key: resources[key] for key in ("gpu", "nodes", "tasks", "tasks_per_gpu", "mpi",
                                                "gres")} == {
            "gpu": 0, "nodes": 2, "tasks": 2, "tasks_per_gpu": 0, "mpi": "srun", "gres": "gpu:8"}
    assert rules["lmeval"]["resources"]["gpu"] == 1 and "mpi" not in rules["lmeval"]["resources"]


@pytest.mark.slow
def test_two_node_training_job_through_sbatch(local_slurm, tiny_run, tmp_path, summary):
    """A fine-tune on 2 nodes × 1 process (DDP, gloo) as one SLURM job: the plugin submits it
    with --nodes=2 --ntasks=2 and runs the job's script without an srun of its own (`mpi`); the
    script's `srun` starts one torchrun per node, which meet at the c10d rendezvous on the first.
    The selections and the base model come from the local tiny run; the changed
    `train.distributed` reruns the training job only."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    copy_run(tiny_run, tmp_path, items=("corpus.jsonl", "results", "resources", ".snakemake"))
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    config["experiments"][0]["methods"] = ["random"]
    config["train"]["distributed"] = {"nodes": 2, "gpus_per_node": 1}
    write_config(tmp_path, config)
    run = "demo-random-10-tiny"
    cmd = [*SNAKEMAKE, f"results/models/{run}", "--directory", str(tmp_path), "--configfile",
           str(tmp_path / "config.yaml"), "--workflow-profile", str(PROFILE),
           "--max-threads", str(os.cpu_count()), "--slurm-init-seconds-before-status-checks", "5",
           *single_node_overrides(profile, node_memory_mb() // 2)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900,
                          check=False)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    jobs = submitted_jobs(tmp_path)
    assert {rule: len(ids) for rule, ids in jobs.items()} == {"train": 1}
    record = scontrol_job(jobs["train"][0])
    assert (record["JobState"], record["NumNodes"], record["NumTasks"]) == ("COMPLETED", "2",
                                                                            "2"), record
    manifest = json.loads((tmp_path / "results" / "models" / run / "manifest.json").read_text())
    assert {key: manifest["batch"][key] for key in ("world_size", "nodes", "launcher")} == {
        "world_size": 2, "nodes": 2, "launcher": "torchrun"}
    log = (tmp_path / "logs" / "train" / f"{run}.log").read_text()
    assert re.search(r"running srun --nodes 2 --ntasks 2 --ntasks-per-node 1 .* --nnodes 2 "
                     r"--rdzv_backend c10d --rdzv_endpoint \S+:29500", log)
    summary.append(f"SLURM: a DDP fine-tune on 2 nodes x 1 process as one sbatch job "
                   f"(--nodes=2 --ntasks=2), COMPLETED in {time.monotonic() - start:.0f} s")
