"""The experiment grid of a validated configuration: selection cells, runs and the pairs of
pairwise judging (`Pair`, re-exported from evaluate.pairwise.pairs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workflow_lib.core import paths
from workflow_lib.core.errors import ConfigError
from workflow_lib.evaluate.pairwise.pairs import Pair, grid_pairs
from workflow_lib.select.budget import Budget
from workflow_lib.select.registry import SelectionKind, selection_kind


def pools_of_kind(config: dict, kind: str) -> list[str]:
    """Names of the pools whose source is of the given kind."""
    return [name for name, pool in config["pools"].items() if pool["source"]["kind"] == kind]


def method_kind(config: dict, method: str) -> SelectionKind:
    """The registry entry of a configured method's kind."""
    return selection_kind(config["methods"][method]["kind"])


@dataclass(frozen=True)
class Selection:
    """One cell of the selection grid; `during_training` when the training run selects (the
    method's kind selects in rule train_iterit) and the cell has no selection file."""

    pool: str
    method: str
    budget: str
    during_training: bool = False

    @property
    def path(self) -> str:
        return paths.fill(paths.SELECTION, pool=self.pool, method=self.method, budget=self.budget)


def selections(config: dict) -> Iterator[Selection]:
    """Every distinct (pool, method, budget) in the experiment grid, in config order.

    A method whose kind ignores the budget (`full`) appears once per pool with budget 'all'.
    Methods whose kind selects during training give cells marked `during_training`.
    """
    seen = set()
    for exp in config["experiments"]:
        for pool in exp["pools"]:
            for method in exp["methods"]:
                kind = method_kind(config, method)
                for budget in ["all"] if kind.ignores_budget else exp["budgets"]:
                    cell = Selection(pool, method, Budget(budget).label, kind.during_training)
                    if cell not in seen:
                        seen.add(cell)
                        yield cell


def methods_of_kind(config: dict, *kinds: str) -> list[str]:
    """Names of the configured methods whose kind is one of `kinds`."""
    return [name for name, m in config["methods"].items() if m["kind"] in kinds]


@dataclass(frozen=True)
class Run:
    """A model to evaluate: a base model as it is, or a fine-tune of one on a selection."""

    name: str
    base_model: str
    selection: Selection | None = None

    @property
    def model_dir(self) -> str:
        if self.selection is None:
            return paths.fill(paths.BASE_MODEL, model=self.base_model)
        return paths.fill(paths.MODEL, run=self.name)


def runs(config: dict) -> list[Run]:
    """Base runs (`base-{model}`) for every model in the grid, then one fine-tuning run per
    selection cell × base model: `{pool}-{method}-{budget}-{base_model}`.

    Raises ConfigError if two different runs would get the same name.
    """
    found: dict[str, Run] = {}
    models = [m for exp in config["experiments"] for m in exp["base_models"]]
    candidates = [Run(f"base-{m}", m) for m in dict.fromkeys(models)]
    for exp in config["experiments"]:
        cells = list(selections({**config, "experiments": [exp]}))
        candidates += [Run(f"{c.pool}-{c.method}-{c.budget}-{m}", m, c)
                       for c in cells for m in exp["base_models"]]
    for run in candidates:
        if found.setdefault(run.name, run) != run:
            raise ConfigError(f"run name {run.name!r} is ambiguous ({found[run.name]} and {run});"
                              " rename a pool, method or model")
    return list(found.values())


def selection_context(snakemake: Any) -> str:
    """`<pool file>: method '<name>'`, how a selection job's errors start (IterIT runs, which
    have a `run` wildcard instead of `method`, find their method in the config's run grid)."""
    method = getattr(snakemake.wildcards, "method", None)
    if method is None:
        run = next(r for r in runs(snakemake.config) if r.name == snakemake.wildcards.run)
        method = run.selection.method
    return f"{snakemake.input.pool}: method {method!r}"


def pairwise_pairs(config: dict) -> list[Pair]:
    """The (run, reference run) pairs of `eval.pairwise.pairs` in this config's run grid
    (evaluate.pairwise.pairs, which takes the grid as an argument)."""
    return grid_pairs(config, runs(config))
