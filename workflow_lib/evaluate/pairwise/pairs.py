"""The pairs of pairwise judging: which run is judged against which reference run
(`eval.pairwise.pairs`), found in a run grid that the caller passes (config.grid makes it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflow_lib.core.errors import ConfigError
from workflow_lib.select.registry import selection_kind

if TYPE_CHECKING:  # the grid's runs are passed in; config (a layer above) is not imported
    from workflow_lib.config.grid import Run


@dataclass(frozen=True)
class Pair:
    """A run (A) judged against a reference run (B) by pairwise judging; `label` names the
    reference in the metrics (`pairwise_vs_{label}`): its method, or "base"."""

    run: str
    reference: str
    label: str


def _reference_run(config: dict, run: Run, reference: str, by_name: dict[str, Run]) -> str:
    """The name of `run`'s reference run: the base model's run (`reference` "base"), or the run
    of method `reference` on the same pool and base model, at the same budget unless that
    method ignores budgets. ConfigError when the grid has no such run."""
    if reference == "base":
        name = f"base-{run.base_model}"
    else:
        cell = run.selection
        ignores = selection_kind(config["methods"][reference]["kind"]).ignores_budget
        budget = "all" if ignores else cell.budget
        name = f"{cell.pool}-{reference}-{budget}-{run.base_model}"
    if name not in by_name:
        raise ConfigError(f"eval.pairwise.pairs: run {run.name!r} has no reference run "
                          f"{name!r} in the experiment grid (add method {reference!r} to the "
                          "experiment, or name the compared methods in `methods`)")
    return name


def grid_pairs(config: dict, grid: Sequence[Run]) -> list[Pair]:
    """The (run, reference run) pairs of `eval.pairwise.pairs`, in run order within each entry
    (empty when pairwise judging is off).

    An entry `{reference: R, methods: [...]}` pairs every fine-tuned run of the listed methods
    (null: every method but R) with the run of method R on the same pool and base model, at the
    same budget unless R ignores budgets (`full`); R "base" is the base model as it is. ConfigError
    for a missing reference run, a listed method without runs, or a pair named twice.
    """
    pairwise = config["eval"]["pairwise"]
    if not pairwise["enabled"]:
        return []
    by_name = {run.name: run for run in grid}
    pairs: list[Pair] = []
    for entry in pairwise["pairs"]:
        reference, methods = entry["reference"], entry["methods"]
        tuned = [r for r in grid if r.selection is not None and r.selection.method != reference
                 and (methods is None or r.selection.method in methods)]
        for method in methods or []:
            if not any(r.selection.method == method for r in tuned):
                raise ConfigError(f"eval.pairwise.pairs: method {method!r} (against "
                                  f"{reference!r}) has no fine-tuned run in the experiment grid")
        for run in tuned:
            pair = Pair(run.name, _reference_run(config, run, reference, by_name), reference)
            if any((p.run, p.reference) == (pair.run, pair.reference) for p in pairs):
                raise ConfigError(f"eval.pairwise.pairs: {pair.run} against {pair.reference} "
                                  "is named twice")
            pairs.append(pair)
    return pairs
