"""Torch's intra-op thread count, set from a job's threads in one place."""

from __future__ import annotations


def set_threads(n: int | None) -> None:
    """Let torch use `n` intra-op threads (a Snakemake job's `threads`); None or 0 leaves
    torch's default. Torch is imported only when a count is given."""
    if not n:
        return
    import torch

    torch.set_num_threads(n)
