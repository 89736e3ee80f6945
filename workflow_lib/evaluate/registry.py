"""The registry of evaluators: everything the workflow needs to know about each evaluator that
Sieve runs on every model.

Each entry owns its config block (`schema`: the `eval.<name>` fragment, composed into the config
schema by `config.validate.load_schema`), when the config enables it, which runs it evaluates,
its settings (what its rules take from the config: `settings(config)[key]`), its files (in
`results/eval/{run}/<name>/`, the pattern of `core.paths`), which of its metrics reach the paper
table, its rule file, and its version. Adding an evaluator = a module with its job function(s),
one `register(...)` call here and, when it needs jobs of its own, one rule file (its `rules`):
docs/metrics-contract.md.

The Snakefile reads this module while it builds the job graph, so it stays light: it names the
evaluators' modules and imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow_lib.core import paths
from workflow_lib.evaluate.inference import inference_settings
from workflow_lib.evaluate.judge import TRANSPORT_KEYS
from workflow_lib.evaluate.lmeval import protocols
from workflow_lib.evaluate.pairwise.pairs import grid_pairs

if TYPE_CHECKING:  # the grid's runs are passed in; config (a layer above) is not imported
    from workflow_lib.config.grid import Run

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one entry per name
class Evaluator:
    """One evaluator of the pipeline.

    `schema` is its `eval.<name>` block: a JSON schema, or the name of a YAML file under schemas/.
    `enabled` tells from the (validated) config whether its metrics are part of the results;
    `runs`, which runs of the grid it evaluates (None: every run). `settings` maps a name to a
    function of the config, the values its rules pass as parameters (a change reruns the jobs).
    `files` are its outputs in the run's evaluation folder, by key (`metrics` is always
    metrics.json).
    `paper_metrics` are the (benchmark, metric) pairs that become columns of the paper table,
    the benchmark a regular expression (whole match); None puts all of them there. `rules` is its
    rule file (relative to the workflow's folder), included by the Snakefile. `version` is a
    parameter of the evaluator's first rule: bump it when a change of its code changes its
    numbers, and Snakemake reruns it for every run.
    """

    name: str
    schema: Mapping | str
    enabled: Callable[[Mapping], bool]
    version: int
    rules: str | None = None
    settings: Mapping[str, Callable[[Mapping], Any]] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    paper_metrics: frozenset[tuple[str, str]] | None = None
    runs: Callable[[Mapping, Sequence[Run]], Collection[str]] | None = None

    def schema_fragment(self) -> dict:
        """The JSON schema of `eval.<name>`."""
        if isinstance(self.schema, str):
            import yaml  # only when the schema is composed (validation), not for the job graph

            with open(SCHEMAS / self.schema, encoding="utf-8") as fh:
                return yaml.safe_load(fh)
        return dict(self.schema)

    def block(self, config: Mapping) -> Mapping:
        """The evaluator's block of the (validated) config."""
        return config["eval"][self.name]

    def setting(self, config: Mapping, key: str) -> Any:
        """One of its settings for `config`."""
        return self.settings[key](config)

    def path(self, key: str, run: str = "{run}", **wildcards: str) -> str:
        """One of its files (`metrics`: metrics.json) for `run` (default: the `{run}` wildcard),
        other wildcards of the file's name filled in when given."""
        name = "metrics.json" if key == "metrics" else self.files[key]
        folder = paths.fill(paths.EVAL, run=run, evaluator=self.name)
        return paths.fill(f"{folder}/{name}", **wildcards)

    @property
    def metrics(self) -> str:
        """The metrics file of a run, with the `{run}` wildcard left to fill."""
        return self.path("metrics")

    def metrics_file(self, run: str) -> str:
        """The metrics file of `run`."""
        return self.path("metrics", run)

    def evaluated_runs(self, config: Mapping, grid: Iterable[Run]) -> list[str]:
        """The names of the runs of `grid` (config.grid's runs, in order) that this evaluator
        evaluates."""
        grid = list(grid)
        if self.runs is None:
            return [run.name for run in grid]
        wanted = set(self.runs(config, grid))
        return [run.name for run in grid if run.name in wanted]

    def in_paper(self, benchmark: str, metric: str) -> bool:
        """Whether the (benchmark, metric) row is a column of the paper table."""
        return self.paper_metrics is None or any(
            metric == m and re.fullmatch(pattern, benchmark) for pattern, m in self.paper_metrics)

    def stand_in_judge(self, config: Mapping) -> bool:
        """Whether its judge is the local stand-in (its results are not quality judgments)."""
        return self.block(config).get("judge", {}).get("kind") == "local"


EVALUATORS: dict[str, Evaluator] = {}


def register(evaluator: Evaluator) -> Evaluator:
    """Add an evaluator to the registry (names are unique)."""
    if evaluator.name in EVALUATORS:
        raise ValueError(f"evaluator {evaluator.name!r} is registered twice")
    EVALUATORS[evaluator.name] = evaluator
    return evaluator


def enabled_evaluators(config: Mapping) -> list[Evaluator]:
    """The evaluators `config` enables, in registry order."""
    return [e for e in EVALUATORS.values() if e.enabled(config)]


def subset(block: Mapping, *keys: str) -> dict:
    """The named keys of a config block."""
    return {key: block[key] for key in keys}


def generation(block: Mapping, config: Mapping, *keys: str) -> dict:
    """What shapes a run's generated answers: the named keys of the block, and the inference
    settings with the evaluator's own dtype."""
    return {**subset(block, *keys), **inference_settings(config, block["dtype"])}


def judge_settings(block: Mapping) -> dict:
    """What shapes an evaluator's judgments: its judge settings without the transport ones,
    which the job reads from the config; the API key stays in the environment."""
    return {key: value for key, value in block["judge"].items() if key not in TRANSPORT_KEYS}


def _pairwise_runs(config: Mapping, grid: Sequence[Run]) -> list[str]:
    """The runs judged against a reference (each has a metrics file)."""
    return [pair.run for pair in grid_pairs(dict(config), grid)]


def _alpaca_eval_runs(config: Mapping, grid: Sequence[Run]) -> list[str]:
    """Every run, or the fine-tunes of the methods `eval.alpaca_eval.methods` names."""
    methods = config["eval"]["alpaca_eval"]["methods"]
    return [run.name for run in grid if methods is None
            or (run.selection is not None and run.selection.method in methods)]


def _lmeval(config: Mapping) -> Mapping:
    return config["eval"]["lmeval"]


def _bpc(config: Mapping) -> Mapping:
    return config["eval"]["bpc"]


def _mtbench(config: Mapping) -> Mapping:
    return config["eval"]["mtbench"]


def _pairwise(config: Mapping) -> Mapping:
    return config["eval"]["pairwise"]


def _alpaca_eval(config: Mapping) -> Mapping:
    return config["eval"]["alpaca_eval"]


def _lmeval_has_tasks(config: Mapping) -> bool:
    """Whether lm-eval has a task: a protocol's, hub or local tasks, or the held-out tasks of a
    demo pool (a config with none evaluates with the other evaluators only, as the ZIP
    recipe's MT-bench)."""
    lmeval = config["eval"]["lmeval"]
    demo = any(p["source"]["kind"] == "demo" for p in config["pools"].values())
    return bool(protocols.hub_tasks(lmeval) or lmeval["local_tasks"]
                or (lmeval["heldout"] and demo))


register(Evaluator(
    name="lmeval",
    schema="eval/lmeval.yaml",
    enabled=_lmeval_has_tasks,
    version=1,
    rules="rules/lmeval.smk",
    settings={
        "tasks": lambda c: protocols.task_settings(_lmeval(c)),
        "inference": lambda c: inference_settings(c),
        "apply_chat_template": lambda c: protocols.apply_chat_template(_lmeval(c)),
    },
    files={"results": "results.json", "manifest": "manifest.json"},
))
register(Evaluator(
    name="bpc",
    schema="eval/bpc.yaml",
    enabled=lambda config: bool(config["eval"]["bpc"]["corpora"]),
    version=1,
    rules="rules/bpc.smk",
    settings={
        "compute": lambda c: generation(_bpc(c), c, "block_size", "stride", "batch_size"),
        "areas": lambda c: subset(_bpc(c), "corpora", "areas"),
    },
    files={"corpus": "{corpus}.json"},
))
# Per category, per turn, judge spread and failures stay in metrics.csv.
register(Evaluator(
    name="mtbench",
    schema="eval/mtbench.yaml",
    enabled=lambda config: config["eval"]["mtbench"]["enabled"],
    version=1,
    rules="rules/mtbench.smk",
    settings={
        "generation": lambda c: generation(_mtbench(c), c, "per_category", "max_new_tokens",
                                           "batch_size", "seed"),
        "judge": lambda c: judge_settings(_mtbench(c)),
    },
    files={"answers": "answers.jsonl", "answers_manifest": "answers.manifest.json",
           "judgments": "judgments.jsonl"},
    paper_metrics=frozenset({("mt_bench", "score")}),
))
# The winning score over all test sets against each reference; the per-set counts and scores
# stay in metrics.csv and the pairwise plot.
register(Evaluator(
    name="pairwise",
    schema="eval/pairwise.yaml",
    enabled=lambda config: config["eval"]["pairwise"]["enabled"],
    version=1,
    rules="rules/pairwise.smk",
    settings={
        "questions": lambda c: subset(_pairwise(c), "testsets", "per_set"),
        "generation": lambda c: generation(_pairwise(c), c, "template", "max_length",
                                           "batch_size"),
        "judge": lambda c: judge_settings(_pairwise(c)),
    },
    files={"answers": "answers.jsonl", "answers_manifest": "answers.manifest.json",
           "judgments": "vs_{reference}/judgments.jsonl"},
    paper_metrics=frozenset({(r"pairwise_vs_[^/]+", "winning_score")}),
    runs=_pairwise_runs,
))
# AlpacaEval 1.0 (alpaca-eval package): the win rate against the reference outputs; the
# length-controlled win rate, wins, draws and failed annotations stay in metrics.csv.
register(Evaluator(
    name="alpaca_eval",
    schema="eval/alpaca_eval.yaml",
    enabled=lambda config: config["eval"]["alpaca_eval"]["enabled"],
    version=1,
    rules="rules/alpaca_eval.smk",
    settings={
        "reference": lambda c: subset(_alpaca_eval(c), "reference_outputs", "limit"),
        "generation": lambda c: generation(_alpaca_eval(c), c, "template", "max_length",
                                           "batch_size"),
        "annotation": lambda c: {**subset(_alpaca_eval(c), "annotator", "seed"),
                                 "judge": judge_settings(_alpaca_eval(c))},
    },
    files={"answers": "answers.jsonl", "answers_manifest": "answers.manifest.json",
           "annotations": "annotations.jsonl"},
    paper_metrics=frozenset({("alpaca_eval", "win_rate")}),
    runs=_alpaca_eval_runs,
))
