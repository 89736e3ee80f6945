"""The cost view: wall and CPU seconds per stage of every selection and run, from the jobs'
Snakemake benchmark files (`core.paths.benchmark`: `benchmarks/<rule>/<wildcards>.tsv`, columns
`s` and `cpu_time`; the mean over a file's rows, one per `repeat`).

`STAGES` maps rule names to stages, in one place: a benchmarked rule of a new stage or
evaluator is added there, or to `NOT_A_STAGE` (tests/unit/report/test_costs.py checks that every
benchmarked rule is in one of them). A job belongs to a row by its wildcards: `select` by
(pool, method, budget), scoring (`ifd_*`) by (pool, scorer), training and evaluation by the
run. Scoring is shared: every selection that reads a (pool, scorer)'s scores shows all of its
cost.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workflow_lib.config.grid import Selection, method_kind, runs, selections
from workflow_lib.config.scorers import iterit_scorer_name

STAGES = {
    "select": "selection",
    "ifd_score_shard": "scoring",
    "ifd_gather": "scoring",
    "train": "training",
    "train_iterit": "training",
    "lmeval": "evaluation",
    "bpc": "evaluation",
    "mtbench_answers": "evaluation",
    "mtbench_judge": "evaluation",
    "pairwise_answers": "evaluation",
    "pairwise_judge": "evaluation",
    "alpaca_eval_answers": "evaluation",
    "alpaca_eval_annotate": "evaluation",
}
# Benchmarked jobs that make the inputs every selection and run share: not in the cost table.
NOT_A_STAGE = frozenset({"generate_demo_pool", "convert_pool", "prepare_model"})
STAGE_ORDER = ["selection", "scoring", "training", "evaluation"]
COST_COLUMNS = [f"{stage} {what} s" for stage in [*STAGE_ORDER, "total"]
                for what in ("wall", "CPU")]


@dataclass(frozen=True)
class Job:
    """One benchmarked job: its rule, its wildcard values (the benchmark's path parts below the
    rule's folder) and its mean wall and CPU seconds."""

    rule: str
    wildcards: tuple[str, ...]
    wall_s: float
    cpu_s: float

    @property
    def stage(self) -> str:
        return STAGES[self.rule]


def read_benchmark(path: str | os.PathLike) -> tuple[float, float]:
    """Mean wall (`s`) and CPU (`cpu_time`) seconds of a Snakemake benchmark file."""
    table = pd.read_csv(path, sep="\t")
    return float(table["s"].mean()), float(table["cpu_time"].mean())


def benchmark_jobs(root: str | os.PathLike) -> list[Job]:
    """The benchmarked jobs of the rules in `STAGES` under the benchmarks folder `root`."""
    jobs = []
    for rule in STAGES:
        for path in sorted((Path(root) / rule).rglob("*.tsv")):
            parts = path.relative_to(Path(root) / rule).with_suffix("").parts
            jobs.append(Job(rule, parts, *read_benchmark(path)))
    return jobs


def _belongs(job: Job, cell: Selection | None, run: str | None, scorer: str | None) -> bool:
    if job.stage == "selection":
        return cell is not None and job.wildcards == (cell.pool, cell.method, cell.budget)
    if job.stage == "scoring":
        return cell is not None and scorer is not None and job.wildcards[:2] == (cell.pool,
                                                                                 scorer)
    return run is not None and job.wildcards[0] == run


def _row(jobs: list[Job], cell: Selection | None, run: str | None,
         scorer: str | None) -> dict[str, float | None]:
    mine = [j for j in jobs if _belongs(j, cell, run, scorer)]
    row: dict[str, float | None] = {}
    for stage in [*STAGE_ORDER, "total"]:
        part = [j for j in mine if stage in (j.stage, "total")]
        row[f"{stage} wall s"] = sum(j.wall_s for j in part) if part else None
        row[f"{stage} CPU s"] = sum(j.cpu_s for j in part) if part else None
    return row


def read_scorer(config: Mapping, method: str, base_model: str | None) -> str | None:
    """The scorer whose scores a selection by `method` reads: the method's `scorer`, IterIT's
    epoch-0 scorer of the base model (`config.scorers`), or None."""
    if method_kind(config, method).name == "iterit":
        return iterit_scorer_name(base_model) if base_model else None
    return config["methods"][method].get("scorer")


def cost_table(jobs: list[Job], config: Mapping) -> pd.DataFrame:
    """A row per run of `config`'s grid (a base run: its evaluation alone), then one per
    selection that no run trains on: pool, method, budget, base model and `COST_COLUMNS`
    (missing: no benchmark of that stage)."""
    rows, trained = [], set()
    for run in runs(config):
        cell = run.selection
        trained.add(cell)
        ident = ({"pool": "-", "method": "base", "budget": "-"} if cell is None else
                 {"pool": cell.pool, "method": cell.method, "budget": cell.budget})
        scorer = read_scorer(config, cell.method, run.base_model) if cell else None
        rows.append({**ident, "base model": run.base_model,
                     **_row(jobs, cell, run.name, scorer)})
    for cell in selections(config):
        if cell not in trained:
            scorer = read_scorer(config, cell.method, None)
            rows.append({"pool": cell.pool, "method": cell.method, "budget": cell.budget,
                         "base model": "-", **_row(jobs, cell, None, scorer)})
    columns = ["pool", "method", "budget", "base model", *COST_COLUMNS]
    return pd.DataFrame(rows, columns=columns).astype(dict.fromkeys(COST_COLUMNS, float))
