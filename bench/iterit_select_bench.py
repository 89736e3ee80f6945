"""IterIT's update step: the reference's scikit-learn/scipy loop vs the pipeline's fast path.

The baseline is docs/methods.md §3.3 literally: `TfidfVectorizer(ngram_range=(1, 3))`, CSC matrix,
`X.sum(axis=1)` over the whole matrix at every greedy step, column decay through CSC
`__setitem__`, and the list-membership merge. The fast path is
`workflow_lib.select.iterit.select.update_order` (own TF-IDF, row sums recomputed only for
rows sharing a decayed column). Both run on the same responses and scores in the same run;
the picks must be equal. Scores are seeded random values in IFD's range rounded to bf16 (the
cost of the step does not depend on where the scores come from). Needs scipy and
scikit-learn, i.e. the tools env:

    .venv-tools/bin/python bench/iterit_select_bench.py [--n 2000] [--m 100] [--decay 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from workflow_lib.select.iterit.select import update_order

POOL = Path(__file__).resolve().parents[2] / "shared/data/pools/alpaca_sample_2k.json"


def reference_update(scores: torch.Tensor, targets: list[str], m: int, decay: float) -> list[int]:
    """The reference's BOTH branch for count = len(scores) (all candidates < 1 here)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(ngram_range=(1, 3)).fit_transform(targets).tocsc()
    order: list[int] = []
    weights = scores.float().numpy().astype(np.float64)
    for _ in range(m):
        div = np.asarray(x.sum(axis=1)).ravel()
        j = int(np.argmax(weights * div))
        for c in x[j].nonzero()[1]:
            x[:, c] *= decay
            x[j, c] = 0
        order.append(j)
    by_ifd = torch.argsort(scores.float(), descending=True, stable=True).tolist()
    order += [i for i in by_ifd if i not in order]
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--decay", type=float, default=0.1)
    args = parser.parse_args()
    if not POOL.exists():
        sys.exit(f"{POOL} is absent: this benchmark reads the shared Alpaca sample")
    records = json.loads(POOL.read_text(encoding="utf-8"))[:args.n]
    targets = [r["output"] + "</s>" for r in records]
    gen = torch.Generator().manual_seed(0)
    scores = (0.3 + 0.69 * torch.rand(len(targets), generator=gen)).to(torch.bfloat16)

    start = time.perf_counter()
    ref = reference_update(scores, targets, args.m, args.decay)
    t_ref = time.perf_counter() - start
    start = time.perf_counter()
    fast = update_order(scores.float().numpy(), targets, args.m, score_type="BOTH",
                        decay=args.decay)
    t_fast = time.perf_counter() - start
    print(f"n={len(targets)} m={args.m} decay={args.decay}")
    print(f"reference loop (sklearn + scipy CSC): {t_ref:8.2f} s")
    print(f"update_order (fast path):             {t_fast:8.2f} s")
    print(f"speed-up: {t_ref / t_fast:.1f}x   same order: {ref == fast}   "
          f"same first m: {ref[:args.m] == fast[:args.m]}")


if __name__ == "__main__":
    main()
