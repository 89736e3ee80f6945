"""What the rules ask of a validated configuration beyond single values (which they read with
Snakemake's `lookup()`): the runs each training rule makes, wildcard constraints, the lists of
files that targets and gathering rules need, and the resources of training jobs.

Light, as the Snakefile reads it while it builds the job graph; every path comes from
`core.paths` and the evaluator registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from workflow_lib.config.grid import Run, Selection, method_kind, selections
from workflow_lib.core import paths
from workflow_lib.evaluate.registry import enabled_evaluators

SELECTION_PLOTS = ("overlap", "rank_agreement", "distributions")


def alternatives(names: Iterable[str]) -> str:
    """Regex matching exactly one of the given names (never matches when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def finetune_runs(runs: Mapping[str, Run]) -> dict[str, Run]:
    """Fine-tunes on a selection file (rule train)."""
    return {name: run for name, run in runs.items()
            if run.selection is not None and not run.selection.during_training}


def iterit_runs(runs: Mapping[str, Run]) -> dict[str, Run]:
    """Runs that select while training (rule train_iterit)."""
    return {name: run for name, run in runs.items()
            if run.selection is not None and run.selection.during_training}


def file_methods(config: Mapping) -> list[str]:
    """Methods whose kind selects from a file (rule select), not during training."""
    return [m for m in config["methods"] if not method_kind(config, m).during_training]


def file_selections(config: Mapping) -> list[Selection]:
    """Selection cells of the grid that are files (not chosen during training)."""
    return [cell for cell in selections(dict(config)) if not cell.during_training]


def selection_outputs(config: Mapping) -> list[str]:
    """data.jsonl and manifest.json of each selection file of the grid."""
    return [f"{c.path}/{name}" for c in file_selections(config)
            for name in ("data.jsonl", "manifest.json")]


def selection_manifests(config: Mapping) -> list[str]:
    """manifest.json of every selection file of the grid."""
    return [f"{cell.path}/manifest.json" for cell in file_selections(config)]


def selection_pools(config: Mapping) -> list[str]:
    """Pools with a selection file in the grid, in config order."""
    return list(dict.fromkeys(cell.pool for cell in file_selections(config)))


def selection_report_files(config: Mapping) -> list[str]:
    """The selection table and each pool's selection plots (rule selection_report); none
    without selection files."""
    if not file_selections(config):
        return []
    return [paths.fill(paths.SELECTIONS_TABLE, ext="csv")] + [
        paths.fill(paths.SELECTION_PLOT, pool=pool, plot=plot, ext="png")
        for pool in selection_pools(config) for plot in SELECTION_PLOTS]


def eval_metrics_files(config: Mapping, runs: Mapping[str, Run]) -> list[str]:
    """metrics.json of every run for every evaluator the config enables, run by run."""
    evaluated = {e: e.evaluated_runs(config, runs.values()) for e in enabled_evaluators(config)}
    return [e.metrics_file(run) for run in runs for e, chosen in evaluated.items()
            if run in chosen]


def stand_in_judges(config: Mapping) -> list[str]:
    """The enabled evaluators judged by the local stand-in (their results are not quality
    judgments; the table and plots say so)."""
    return [e.name for e in enabled_evaluators(config) if e.stand_in_judge(config)]


def lmeval_heldout_pools(config: Mapping) -> list[str]:
    """Demo pools whose held-out split becomes lm-eval tasks."""
    if not config["eval"]["lmeval"]["heldout"]:
        return []
    return [name for name, pool in config["pools"].items() if pool["source"]["kind"] == "demo"]


def gpus_per_job(config: Mapping) -> int:
    """GPUs a training or scoring job asks the scheduler for (train.device decides)."""
    return int(config["train"]["device"] == "gpu")


def train_resources(config: Mapping) -> dict:
    """What a training job asks the scheduler for beyond memory and time: a GPU per process
    of a node (train.device gpu); on several nodes, also the nodes, one task per node and
    `mpi` (the SLURM plugin then runs the job without wrapping it in an srun step, so that
    its own `srun` starts one launcher per node), with the GPUs per node as `gres`."""
    dist = config["train"]["distributed"]
    per_node = dist["gpus_per_node"] * gpus_per_job(config)
    if dist["nodes"] == 1:
        return {"gpu": per_node}
    resources = {
        "gpu": 0,
        "nodes": dist["nodes"],
        "tasks": dist["nodes"],
        "tasks_per_gpu": 0,  # no --ntasks-per-gpu (the plugin derives it from tasks otherwise)
        "mpi": "srun",
    }
    if per_node:
        resources["gres"] = f"gpu:{per_node}"
    return resources
