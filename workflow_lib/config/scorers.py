"""The scorers of a configuration: the configured ones (`scorers`) and, for each base model that
an IterIT run trains, the implicit scorer `iterit-{model}` (preset `iterit`): the epoch-0 scores
of the pool with the base model, written in shards like every scorer's and read by the run
(docs/methods.md §3.4). Names starting with `iterit-` are therefore reserved."""

from __future__ import annotations

from collections.abc import Mapping

from workflow_lib.config.grid import method_kind

ITERIT_PREFIX = "iterit-"


def iterit_scorer_name(model: str) -> str:
    """The implicit scorer of IterIT's epoch-0 scores with a base model."""
    return f"{ITERIT_PREFIX}{model}"


def _score_batch_size(config: Mapping) -> int:
    """Batch size of IterIT's epoch-0 scoring: the largest of the IterIT methods' (8 if none)."""
    sizes = [m["score_batch_size"] for m in config["methods"].values() if m["kind"] == "iterit"]
    return max(sizes, default=8)


def _iterit_models(config: Mapping) -> list[str]:
    """Base models of the experiments with a method that selects during training."""
    models: dict[str, None] = {}
    for exp in config["experiments"]:
        if any(m in config["methods"] and method_kind(dict(config), m).during_training
               for m in exp["methods"]):
            models.update(dict.fromkeys(exp["base_models"]))
    return list(models)


def all_scorers(config: Mapping) -> dict[str, dict]:
    """Every scorer by name: the configured ones, then the implicit IterIT ones. An IterIT
    scorer scores at the training's `sequence_len`, in float32 (the reference's epoch 0 uses the
    model dtype; float32 keeps the shared scores exact, `score_precision` rounds them per run),
    with the IterIT methods' batch size and no token limit per batch."""
    implicit = {
        iterit_scorer_name(model): {
            "model": model, "preset": "iterit", "max_length": config["train"]["sequence_len"],
            "mode": "fast", "dtype": "float32", "batch_size": _score_batch_size(config),
            "max_tokens_per_batch": None, "max_padding": 0.1, "chunk_size": 512,
        }
        for model in _iterit_models(config)
    }
    return {**config["scorers"], **implicit}
