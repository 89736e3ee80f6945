"""The evaluators Sieve runs on every model: each one's name, when the config enables it, where
it writes its metrics, which of its metrics reach the paper table, and its version.

The Snakefile reads this module while it builds the job graph (`rules/common.smk`), so it stays
light: it names the evaluators and imports none of them. Adding an evaluator:
docs/metrics-contract.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

METRICS_PATTERN = "results/eval/{run}/{evaluator}/metrics.json"


@dataclass(frozen=True)
class Evaluator:
    """One evaluator of the pipeline.

    `enabled` tells from the (validated) config whether its metrics are part of the results;
    `runs`, which runs it evaluates (None: every run). `paper_metrics` are the (benchmark,
    metric) pairs that become columns of the paper table, the benchmark a regular expression
    (whole match); None puts all of them there. `version` is a parameter of the evaluator's
    first rule: bump it when a change of its code changes its numbers, and Snakemake reruns it
    for every run.
    """

    name: str
    enabled: Callable[[Mapping], bool]
    version: int
    paper_metrics: frozenset[tuple[str, str]] | None = None
    runs: Callable[[Mapping], Collection[str]] | None = None

    @property
    def metrics(self) -> str:
        """The metrics file of a run, with the `{run}` wildcard left to fill."""
        return METRICS_PATTERN.format(run="{run}", evaluator=self.name)

    def metrics_file(self, run: str) -> str:
        """The metrics file of `run`."""
        return METRICS_PATTERN.format(run=run, evaluator=self.name)

    def evaluated_runs(self, config: Mapping, runs: Sequence[str]) -> list[str]:
        """Those of `runs` (the grid's, in order) that this evaluator evaluates."""
        if self.runs is None:
            return list(runs)
        wanted = set(self.runs(config))
        return [run for run in runs if run in wanted]

    def in_paper(self, benchmark: str, metric: str) -> bool:
        """Whether the (benchmark, metric) row is a column of the paper table."""
        return self.paper_metrics is None or any(
            metric == m and re.fullmatch(pattern, benchmark) for pattern, m in self.paper_metrics)


def _pairwise_runs(config: Mapping) -> list[str]:
    """The runs judged against a reference (each has a metrics file); config.grid is imported
    here, when the function runs, so that importing the registry stays free of the grid."""
    from workflow_lib.config.grid import pairwise_pairs

    return [pair.run for pair in pairwise_pairs(dict(config))]


def _lmeval_has_tasks(config: Mapping) -> bool:
    """Whether lm-eval has a task: hub or local tasks, or the held-out tasks of a demo pool (a
    config with none evaluates with the other evaluators only, as the ZIP recipe's MT-bench)."""
    lmeval = config["eval"]["lmeval"]
    demo = any(p["source"]["kind"] == "demo" for p in config["pools"].values())
    return bool(lmeval["hub_tasks"] or lmeval["local_tasks"] or (lmeval["heldout"] and demo))


EVALUATORS: dict[str, Evaluator] = {e.name: e for e in (
    Evaluator("lmeval", _lmeval_has_tasks, version=1),
    Evaluator("bpc", lambda config: bool(config["eval"]["bpc"]["corpora"]), version=1),
    # Per category, per turn, judge spread and failures stay in metrics.csv.
    Evaluator("mtbench", lambda config: config["eval"]["mtbench"]["enabled"], version=1,
              paper_metrics=frozenset({("mt_bench", "score")})),
    # The winning score over all test sets against each reference; the per-set counts and
    # scores stay in metrics.csv and the pairwise plot.
    Evaluator("pairwise", lambda config: config["eval"]["pairwise"]["enabled"], version=1,
              paper_metrics=frozenset({(r"pairwise_vs_[^/]+", "winning_score")}),
              runs=_pairwise_runs),
)}


def enabled_evaluators(config: Mapping) -> list[Evaluator]:
    """The evaluators `config` enables, in registry order."""
    return [e for e in EVALUATORS.values() if e.enabled(config)]
