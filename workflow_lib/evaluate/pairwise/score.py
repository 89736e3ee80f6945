"""Win / tie / lose of A against B from both judge orders (Cherry LLM's `review_eval_score.py`,
`get_scores_all`), per-set counts, the winning score, and the tidy metric rows.

With s = the scores (A, B) of the first order and r = the scores (A, B) read from the reversed
judgment, A wins when both orders prefer A or one does and the other ties; B wins likewise; any
other case (the orders disagree, or both tie) is a tie. Equivalently: sign(s_A − s_B) +
sign(r_A − r_B) > 0 wins, < 0 loses, = 0 ties. A question with an unparsable verdict in either
order is a failure: counted apart, never scored.

Winning score = (wins − losses) / (wins + ties + losses) + 1 (1.0 = parity, 2.0 = A always wins),
per set and over all sets (the paper's, from the totals of the five sets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from workflow_lib.core.errors import UserError
from workflow_lib.evaluate.metrics import MetricRow, RunMetrics

OUTCOMES = ("win", "tie", "lose", "failed")  # from A's side


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def outcome(scores: Sequence[float] | None, scores_reverse: Sequence[float] | None) -> str:
    """A's outcome from the verdicts as presented: `scores` = [A, B] of the first order,
    `scores_reverse` = [B, A] of the reversed one (None: unparsable, a failure)."""
    if scores is None or scores_reverse is None:
        return "failed"
    (s_a, s_b), (r_b, r_a) = scores, scores_reverse
    vote = _sign(s_a - s_b) + _sign(r_a - r_b)
    return "win" if vote > 0 else "lose" if vote < 0 else "tie"


@dataclass(frozen=True)
class Counts:
    """Questions A won, tied, lost, and failed to judge."""

    win: int = 0
    tie: int = 0
    lose: int = 0
    failed: int = 0

    @property
    def judged(self) -> int:
        return self.win + self.tie + self.lose

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def winning_score(counts: Counts) -> float | None:
    """(wins − losses) / judged + 1; None when no question was judged."""
    if not counts.judged:
        return None
    return (counts.win - counts.lose) / counts.judged + 1


def count_outcomes(records: Iterable[dict]) -> dict[str, Counts]:
    """Counts per set (records with `set` and `outcome`), sets in order of first appearance."""
    tally: dict[str, dict[str, int]] = {}
    for r in records:
        tally.setdefault(r["set"], dict.fromkeys(OUTCOMES, 0))[r["outcome"]] += 1
    return {name: Counts(**counts) for name, counts in tally.items()}


def total(per_set: dict[str, Counts]) -> Counts:
    """The counts over all sets."""
    return sum(per_set.values(), Counts())


def _rows(benchmark: str, counts: Counts) -> list[dict]:
    n = counts.judged + counts.failed
    # A tie is neither good nor bad for A; it is not "higher is better".
    rows = [{"benchmark": benchmark, "metric": name, "value": float(getattr(counts, name)),
             "stderr": None, "n": n, "higher_is_better": name == "win"} for name in OUTCOMES]
    score = winning_score(counts)
    if score is not None:
        rows.append({"benchmark": benchmark, "metric": "winning_score", "value": score,
                     "stderr": None, "n": counts.judged, "higher_is_better": True})
    return rows


def pairwise_metrics(run: str, reference: str, records: Sequence[dict]) -> dict:
    """Tidy metrics of `run` (A) judged against `reference` (B): benchmark
    `pairwise_vs_{reference}` over all sets and `pairwise_vs_{reference}/{set}` per set, each
    with the counts win, tie, lose, failed (n = questions) and winning_score (n = judged
    questions; left out for a set with none). UserError when no question was judged."""
    per_set = count_outcomes(records)
    overall = total(per_set)
    if not overall.judged:
        raise UserError(f"{run} against {reference}: none of the {overall.failed} questions got "
                        "parsable verdicts in both orders; see the judgments file for them")
    benchmark = f"pairwise_vs_{reference}"
    rows = _rows(benchmark, overall)
    for name, counts in per_set.items():
        rows += _rows(f"{benchmark}/{name}", counts)
    return {"run": run, "evaluator": "pairwise", "metrics": rows}


def pairwise_run_metrics(run: str, judged: Mapping[str, Sequence[dict]]) -> RunMetrics:
    """The metrics file of `run` from its judgments against each reference, keyed by the
    reference's label (`pairwise_vs_{label}` rows of `pairwise_metrics`, one block per label)."""
    rows = [MetricRow(**row) for label, records in judged.items()
            for row in pairwise_metrics(run, label, records)["metrics"]]
    return RunMetrics(run, "pairwise", rows)
