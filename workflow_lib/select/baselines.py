"""Baseline selections: the whole pool, a seeded random sample, and the longest responses."""

from __future__ import annotations

import random
from collections.abc import Sequence

from workflow_lib.data.records import response_text
from workflow_lib.select.budget import resolve_budget


def select_full(records: Sequence[dict]) -> list[int]:
    """Every record, in pool order."""
    return list(range(len(records)))


def select_random(records: Sequence[dict], k: int, seed: int = 0) -> list[int]:
    """k distinct indices drawn with `random.Random(seed)`, in draw order."""
    return random.Random(seed).sample(range(len(records)), k)


def response_length(record: dict, unit: str = "chars") -> int:
    """Length of all assistant turns together, in characters or whitespace-separated words."""
    text = response_text(record)
    return len(text) if unit == "chars" else len(text.split())


def select_longest(records: Sequence[dict], k: int, length: str = "chars") -> list[int]:
    """The k records with the longest responses, longest first; ties keep pool order."""
    lengths = [response_length(r, length) for r in records]
    return sorted(range(len(records)), key=lambda i: -lengths[i])[:k]


def select_baseline(kind: str, records: Sequence[dict], budget: int | float | str,
                    params: dict) -> list[int]:
    """Dispatch a baseline method of the given kind; returns selected pool indices in order."""
    if kind == "full":
        return select_full(records)
    k = resolve_budget(budget, len(records))
    if kind == "random":
        return select_random(records, k, seed=params.get("seed", 0))
    if kind == "longest":
        return select_longest(records, k, length=params.get("length", "chars"))
    raise ValueError(f"unknown baseline method kind {kind!r}")
