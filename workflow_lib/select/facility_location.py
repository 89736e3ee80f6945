"""Facility-location selection by lazy greedy, on submodlib's dense euclidean kernel.

Superfiltering.D (`code_diversity_fla/do_fla.py`, docs/methods.md §2.1) calls
`submodlib.FacilityLocationFunction(n, mode="dense", data=X, metric="euclidean").maximize(budget,
optimizer="LazyGreedy", stopIfZeroGain=False, stopIfNegativeGain=False)`. Reimplemented here (no
submodlib dependency):

* kernel: submodlib `helper.create_kernel` turns distances into similarities as
  `S = exp(-D / dim)` with `D` the euclidean distance matrix and `dim` the embedding width;
* objective: `f(A) = sum_i max_{j in A} S[i, j]` over the whole ground set;
* lazy greedy (Minoux), as submodlib's LazyGreedyOptimizer runs it: a max-heap of
  `(gain bound, index)` pairs (C++ `std::priority_queue<pair<double, long>>`), so equal bounds
  pop the *higher* index first; the popped element, its gain refreshed, is taken when that gain
  is at least the next bound (equality included), else pushed back. Exact ties are common (two
  mutually nearest records, duplicates). The selection runs to `budget` even when gains are 0
  (stopIfZeroGain=False), and is returned in greedy order.
"""

from __future__ import annotations

import heapq
import sys

import numpy as np
from tqdm import tqdm


def euclidean_similarity(x: np.ndarray) -> np.ndarray:
    """submodlib's dense euclidean kernel `exp(-||x_i - x_j|| / dim)` (float64, n × n)."""
    x = np.asarray(x, dtype=np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return np.exp(-np.sqrt(d2) / x.shape[1])


def facility_location_greedy(
    similarity: np.ndarray, budget: int, *, progress: bool = False
) -> tuple[list[int], list[float]]:
    """Indices chosen by lazy greedy maximisation of facility location, in greedy order, and the
    marginal gain of each. `similarity[i, j]`: how well j represents i (symmetric here)."""
    n = len(similarity)
    if not 0 <= budget <= n:
        raise ValueError(f"budget must be between 0 and {n}, got {budget}")
    cover = np.zeros(n)
    heap = [(-float(g), -j) for j, g in enumerate(similarity.sum(axis=0))]  # max-heap of (g, j)
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    with tqdm(total=budget, desc="facility location", file=sys.stderr, disable=not progress) as bar:
        while len(chosen) < budget:
            _, minus_j = heapq.heappop(heap)
            j = -minus_j
            gain = float(np.maximum(similarity[:, j] - cover, 0.0).sum())
            if heap and gain < -heap[0][0]:
                heapq.heappush(heap, (-gain, minus_j))
                continue
            chosen.append(j)
            gains.append(gain)
            np.maximum(cover, similarity[:, j], out=cover)
            bar.update()
    return chosen, gains
