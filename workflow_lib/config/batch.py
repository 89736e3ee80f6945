"""The training batch of a validated `train` block: world size and gradient accumulation derived
from the recipe's global batch.

A paper states its global batch (sequences per optimizer step over all GPUs); the project derives
`gradient_accumulation_steps = global_batch_size / (micro_batch_size × world size)`, so a recipe
moved from 4 to 8 GPUs keeps the paper's global batch. Without `global_batch_size`, the global
batch is what the other three give.
"""

from __future__ import annotations


def world_size(train: dict) -> int:
    """Training processes of a run: nodes × processes per node."""
    distributed = train["distributed"]
    return distributed["nodes"] * distributed["gpus_per_node"]


def resolve_batch(train: dict) -> list[str]:
    """Fill in `gradient_accumulation_steps` and `global_batch_size` of a schema-validated `train`
    block (in place); returns the problems, each prefixed by its key path (none: filled in)."""
    micro, world = train["micro_batch_size"], world_size(train)
    per_step = micro * world
    given_acc, global_batch = train["gradient_accumulation_steps"], train["global_batch_size"]
    if global_batch is None:
        train["gradient_accumulation_steps"] = given_acc or 1
        train["global_batch_size"] = per_step * train["gradient_accumulation_steps"]
        return []
    shape = f"micro_batch_size × world size = {micro} × {world} = {per_step}"
    if global_batch % per_step:
        return [f"train.global_batch_size: {global_batch} is not a multiple of {shape} "
                "(change micro_batch_size or the GPU count)"]
    derived = global_batch // per_step
    if given_acc is not None and given_acc != derived:
        return [f"train.gradient_accumulation_steps: {given_acc} contradicts global_batch_size "
                f"{global_batch} / ({shape}) = {derived}; set one of the two"]
    train["gradient_accumulation_steps"] = derived
    return []

