"""Baseline selections: the whole pool, a seeded random sample, and the longest responses."""

from __future__ import annotations

import random
from collections.abc import Sequence

from workflow_lib.data.records import response_text
from workflow_lib.select.request import Selected, SelectionRequest


def select_random(records: Sequence[dict], k: int, seed: int = 0) -> list[int]:
    """k distinct indices drawn with `random.Random(seed)`, in draw order: the method's seed
    alone, nothing of the pool's name, so equal pools (size and order) give equal picks."""
    return random.Random(seed).sample(range(len(records)), k)


def response_length(record: dict, unit: str = "chars") -> int:
    """Length of all assistant turns together, in characters or whitespace-separated words."""
    text = response_text(record)
    return len(text) if unit == "chars" else len(text.split())


def select_longest(records: Sequence[dict], k: int, length: str = "chars") -> list[int]:
    """The k records with the longest responses, longest first; ties keep pool order."""
    lengths = [response_length(r, length) for r in records]
    return sorted(range(len(records)), key=lambda i: -lengths[i])[:k]


def full_selection(request: SelectionRequest) -> Selected:
    """Every record, in pool order (kind `full`)."""
    return Selected(list(range(len(request.records))))


def random_selection(request: SelectionRequest) -> Selected:
    """A seeded random sample of the budget's size (kind `random`)."""
    return Selected(select_random(request.records, request.count(),
                                  seed=request.params.get("seed", 0)))


def longest_selection(request: SelectionRequest) -> Selected:
    """The budget's number of records with the longest responses (kind `longest`)."""
    return Selected(select_longest(request.records, request.count(),
                                   length=request.params.get("length", "chars")))
