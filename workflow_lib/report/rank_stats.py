"""Agreement of two scorings of the same records: Spearman rank correlation, top-k overlap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: Pearson correlation of the average ranks (ties share their mean rank)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two sequences of equal length >= 2, got {len(a)} and {len(b)}")
    ranks_a = pd.Series(np.asarray(a, dtype=float)).rank().to_numpy()
    ranks_b = pd.Series(np.asarray(b, dtype=float)).rank().to_numpy()
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def top_overlap(a: Sequence[float], b: Sequence[float], fraction: float) -> float:
    """Share of the `int(n * fraction)` highest of `a` that are also among the highest of `b`
    (ties broken by position, as a stable sort would)."""
    k = int(len(a) * fraction)
    if k < 1:
        raise ValueError(f"fraction {fraction} of {len(a)} records selects none")
    top_a = set(np.argsort(-np.asarray(a, dtype=float), kind="stable")[:k].tolist())
    top_b = set(np.argsort(-np.asarray(b, dtype=float), kind="stable")[:k].tolist())
    return len(top_a & top_b) / k
