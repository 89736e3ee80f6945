"""IterIT's selection step, `SupervisedDataset.update(count, m)` (docs/methods.md §3.3), in numpy.

The dataset is an ordered list of positions; `update` re-ranks its first `count` positions from
their complexity scores (IFD with the current model) and, for `score_type="BOTH"`, a greedy
diversity term over the responses' TF-IDF vectors; the first `m` positions of the new order are
the epoch's training subset.

Decisions about the reference's quirks (docs/methods.md §3.5):
- TF-IDF is reimplemented (no scikit-learn in the workflow environment) with the defaults the
  reference uses: `TfidfVectorizer(ngram_range=(1, 3))`, i.e. lowercase, tokens `(?u)\\b\\w\\w+\\b`,
  raw counts, smooth idf `ln((1+n)/(1+df)) + 1`, l2-normalised rows. Values are bit-identical to
  scikit-learn 1.9 (row norms are summed in scikit-learn's storage order; tests check this).
- The diversity of a row is its sum in column order, as scipy's CSC matvec (`X.sum(axis=1)`)
  accumulates it; rows are recomputed only when one of their columns decays
  (docs/methods.md §3.6), so the picks are those of the reference loop.
- Ties are deterministic: the IFD ranking is a stable descending sort (ties keep the current
  order; the reference's `torch.argsort` is unstable), the greedy argmax takes the first maximum.
- Quirk 5 is fixed: the greedy step only considers candidates not yet picked, so when fewer
  candidates than `m` exist (or every remaining diversity is zero, as with decay 0) the reference
  re-picks position 0 and duplicates training rows; here the next unpicked candidate in position
  order is taken (the same pick the reference makes whenever some remaining product is positive).
- Candidates are scores < 1; scores >= 1 are kept after the first `m` picks; NaN scores (no
  response span) are dropped from the order, as in the reference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCORE_TYPES = ("BOTH", "IFD")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
NGRAM_MAX = 3


@dataclass
class TfidfMatrix:
    """Rows in CSR form with columns sorted by term (scikit-learn's feature order)."""

    data: np.ndarray      # float64 values
    indices: np.ndarray   # column of each value, ascending within a row
    indptr: np.ndarray    # row i is data[indptr[i]:indptr[i+1]]
    terms: list[str]      # column -> n-gram

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def dense(self) -> np.ndarray:
        out = np.zeros((self.n_rows, len(self.terms)))
        for i in range(self.n_rows):
            lo, hi = self.indptr[i], self.indptr[i + 1]
            out[i, self.indices[lo:hi]] = self.data[lo:hi]
        return out


def word_ngrams(text: str, n_max: int = NGRAM_MAX) -> list[str]:
    """Lowercased word n-grams (1..n_max) in scikit-learn's order: unigrams, then bigrams, ..."""
    tokens = _TOKEN.findall(text.lower())
    grams = list(tokens)
    for n in range(2, min(n_max, len(tokens)) + 1):
        grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def tfidf_matrix(docs: Sequence[str]) -> TfidfMatrix:
    """TF-IDF of `docs` as `TfidfVectorizer(ngram_range=(1, 3)).fit_transform(docs)` computes it."""
    first_seen: dict[str, int] = {}
    rows: list[dict[int, int]] = []
    for doc in docs:
        counts: dict[int, int] = {}
        for gram in word_ngrams(doc):
            col = first_seen.setdefault(gram, len(first_seen))
            counts[col] = counts.get(col, 0) + 1
        rows.append(counts)
    terms = sorted(first_seen)
    rank = np.empty(len(terms), dtype=np.int64)        # first-seen id -> sorted column
    for col, term in enumerate(terms):
        rank[first_seen[term]] = col
    df = np.zeros(len(terms))
    for counts in rows:
        df[rank[list(counts)]] += 1
    idf = np.log((len(docs) + 1) / (df + 1)) + 1
    data, indices, indptr = [], [], [0]
    for counts in rows:
        seen_order = sorted(counts)                       # scikit-learn's storage order in a row
        cols = rank[seen_order]
        values = np.array([counts[c] for c in seen_order], dtype=np.float64) * idf[cols]
        norm = 0.0
        for v in values.tolist():
            norm += v * v
        if norm != 0.0:
            values = values / math.sqrt(norm)
        by_col = np.argsort(cols, kind="stable")
        data.append(values[by_col])
        indices.append(cols[by_col])
        indptr.append(indptr[-1] + len(cols))
    return TfidfMatrix(
        data=np.concatenate(data) if data else np.zeros(0),
        indices=np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
        indptr=np.array(indptr, dtype=np.int64),
        terms=terms,
    )


def _row_sum(values: np.ndarray) -> float:
    """Sum in storage (column) order, one addition at a time, as a CSC matvec accumulates."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def greedy_diversity(matrix: TfidfMatrix, scores: np.ndarray, m: int, decay: float) -> list[int]:
    """`min(m, rows)` greedy picks of argmax(score × row sum); after each pick every column of
    the picked row is multiplied by `decay` in all rows and zeroed in the picked row."""
    data = matrix.data.copy()
    n = matrix.n_rows
    by_column: dict[int, list[int]] = {}
    for pos, col in enumerate(matrix.indices.tolist()):
        by_column.setdefault(col, []).append(pos)
    rows_of = np.repeat(np.arange(n), np.diff(matrix.indptr))
    column_slots = {c: np.array(p) for c, p in by_column.items()}
    row_sums = np.array([_row_sum(data[matrix.indptr[i]:matrix.indptr[i + 1]]) for i in range(n)])
    weights = scores.astype(np.float32).astype(np.float64)
    available = np.ones(n, dtype=bool)
    picks: list[int] = []
    for _ in range(min(m, n)):
        product = np.where(available, weights * row_sums, -np.inf)
        j = int(np.argmax(product))
        picks.append(j)
        available[j] = False
        lo, hi = matrix.indptr[j], matrix.indptr[j + 1]
        touched: set[int] = {j}
        for slot in range(lo, hi):
            if data[slot] == 0.0:
                continue
            slots = column_slots[int(matrix.indices[slot])]
            data[slots] *= decay
            data[slot] = 0.0
            touched.update(rows_of[slots].tolist())
        for i in touched:
            row_sums[i] = _row_sum(data[matrix.indptr[i]:matrix.indptr[i + 1]])
    return picks


def update_order(scores: np.ndarray, targets: Sequence[str], m: int, *, score_type: str = "BOTH",
                 decay: float = 0.1) -> list[int]:
    """New order of the positions 0..count-1 (count = len(scores)), NaN-scored ones dropped:
    the first `m` ranked candidates (score < 1), then the positions scored >= 1 in their current
    order, then the remaining candidates. `targets[i]` is the response text of position i."""
    if score_type not in SCORE_TYPES:
        raise ValueError(f"score_type must be one of {SCORE_TYPES}, not {score_type!r}")
    if len(targets) != len(scores):
        raise ValueError(f"{len(scores)} scores but {len(targets)} targets")
    scores = np.asarray(scores, dtype=np.float32)
    candidates = np.flatnonzero(scores < 1.0)
    others = np.flatnonzero(scores >= 1.0)
    by_ifd = np.argsort(-scores[candidates], kind="stable").tolist()
    if score_type == "IFD":
        ranked = by_ifd
    else:
        matrix = tfidf_matrix([targets[i] for i in candidates])
        picks = greedy_diversity(matrix, scores[candidates], m, decay)
        chosen = set(picks)
        ranked = picks + [i for i in by_ifd if i not in chosen]
    order = candidates[ranked]
    return [*order[:m].tolist(), *others.tolist(), *order[m:].tolist()]
