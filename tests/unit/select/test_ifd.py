"""Superfiltering, Cherry and Superfiltering.D selection rules; facility location vs brute force."""

import itertools
import math

import numpy as np
import pytest

from workflow_lib.scoring.presets import PRESETS
from workflow_lib.select.budget import Budget, BudgetError, Rounding
from workflow_lib.select.facility_location import euclidean_similarity, facility_location_greedy
from workflow_lib.select.ifd import diversity_text, select_ifd, select_superfiltering_d

TRUNCATE = Rounding.TRUNCATE  # the references' int(n * rate) (registry: superfiltering, cherry)


def rows_of(values):
    """Score rows; a string value is a failure reason."""
    return [{"id": f"r{i}", "ifd": None if isinstance(v, str) else v,
             "reason": v if isinstance(v, str) else None} for i, v in enumerate(values)]


IFDS = [0.5, 1.0, 0.9, "empty_response", 0.9, 1.2, 0.2, 0.7, "prompt_too_long", 0.9]


def test_superfiltering_rule():
    rows = rows_of(IFDS)
    chosen, info = select_ifd(rows, PRESETS["superfiltering"], Budget(4), TRUNCATE)
    # IFD < 1 only; stable sort descending: the three 0.9 keep pool order (2, 4, 9)
    assert chosen == [2, 4, 9, 7]
    assert info["dropped_unscored"] == {"empty_response": 1, "prompt_too_long": 1}
    assert info["dropped_above_threshold"] == 2 and info["n_kept"] == 6
    # a fraction is of the pool (10 records), not of the kept list
    assert select_ifd(rows, PRESETS["superfiltering"], Budget(0.3), TRUNCATE)[0] == [2, 4, 9]
    assert select_ifd(rows, PRESETS["superfiltering"], Budget("all"), TRUNCATE)[0] == [
        2, 4, 9, 7, 0, 6]


def test_cherry_rule():
    rows = rows_of(IFDS)
    chosen, info = select_ifd(rows, PRESETS["cherry"], Budget(3), TRUNCATE)
    # IFD == 1 kept; the highest 3 by (ifd, index): 1.0 (1), then ties 0.9 -> larger index wins
    # (9, 4); output in pool order
    assert chosen == [1, 4, 9]
    assert info["n_kept"] == 7 and info["dropped_above_threshold"] == 1
    # a fraction is of the kept list: int(7 * 0.3) = 2
    assert select_ifd(rows, PRESETS["cherry"], Budget(0.3), TRUNCATE)[0] == [1, 9]
    # k = 0 is a BudgetError (the reference's [-0:] would select all)
    with pytest.raises(BudgetError, match=r"budget 0\.1 of 7 records gives 0 records"):
        select_ifd(rows, PRESETS["cherry"], Budget(0.1), TRUNCATE)


def test_fraction_budgets_truncate():
    assert Budget(5).count(100, TRUNCATE) == 5
    assert Budget(0.05).count(52002, TRUNCATE) == 2600
    assert Budget("all").count(7, TRUNCATE) == 7


def coverage(sim):
    """The facility-location objective f(A) = sum_i max_{j in A} sim[i, j], by brute force."""
    return lambda chosen: sum(max((sim[i, j] for j in chosen), default=0.0)
                              for i in range(len(sim)))


@pytest.mark.parametrize("seed", range(4))
def test_lazy_greedy_takes_an_argmax_at_every_step(seed):
    x = np.random.default_rng(seed).normal(size=(14, 5))
    sim = euclidean_similarity(x)
    chosen, gains = facility_location_greedy(sim, 6)
    f = coverage(sim)
    for step, j in enumerate(chosen):
        before = chosen[:step]
        best = max(f([*before, i]) for i in range(len(sim)) if i not in before)
        assert f([*before, j]) == pytest.approx(best, abs=1e-12)  # exact ties are common
        assert gains[step] == pytest.approx(f([*before, j]) - f(before), abs=1e-12)
    # greedy reaches at least (1 - 1/e) of the optimum (exhaustive search, small case)
    best = max(f(list(c)) for c in itertools.combinations(range(14), 3))
    assert f(chosen[:3]) >= (1 - 1 / math.e) * best


def test_exact_ties_are_broken_as_submodlibs_lazy_greedy():
    """Two pairs of duplicates on a line: every column sums to the same bound. submodlib's
    max-heap of (bound, index) pops the higher index first, and a popped element is taken when
    its refreshed gain is at least the next bound: step 1 takes 3; step 2 refreshes 2 (gain 0)
    and 1 (gain 2(1 - s) < the stale bound of 0), then 0, which ties 1's new bound and is taken;
    then 1 and 2. (A plain greedy with ties to the higher index would take 1 before 0.)"""
    sim = euclidean_similarity(np.array([[0.0], [0.0], [2.0], [2.0]]))
    s = sim[0, 2]
    assert len(set(sim.sum(axis=0).tolist())) == 1
    chosen, gains = facility_location_greedy(sim, 4)
    assert chosen == [3, 0, 1, 2]
    assert gains == pytest.approx([2 + 2 * s, 2 * (1 - s), 0, 0])


def test_euclidean_kernel_is_submodlibs():
    x = np.random.default_rng(0).normal(size=(5, 3))
    sim = euclidean_similarity(x)
    for i, j in itertools.product(range(5), repeat=2):
        assert sim[i, j] == pytest.approx(math.exp(-np.linalg.norm(x[i] - x[j]) / 3))


def test_budget_zero_and_all():
    sim = euclidean_similarity(np.eye(4))
    assert facility_location_greedy(sim, 0) == ([], [])
    assert sorted(facility_location_greedy(sim, 4)[0]) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        facility_location_greedy(sim, 5)


def test_superfiltering_d():
    rows = rows_of(IFDS)
    records = [{"id": r["id"], "source": "t", "meta": {}, "conversations": [
        {"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": f"a{i}"}]}
        for i, r in enumerate(rows)]
    seen = []

    def embed(texts):
        seen.extend(texts)
        return np.array([[float(t[1]), 0.0] for t in texts])  # position on a line by index

    chosen, info = select_superfiltering_d(records, rows, Budget(2), TRUNCATE, 0.4, embed)
    # top int(10 * 0.4) = 4 by IFD: 2, 4, 9, 7; facility location picks 2 of them
    assert seen == ["q2\n\na2", "q4\n\na4", "q9\n\na9", "q7\n\na7"]
    assert set(chosen) <= {2, 4, 9, 7} and len(chosen) == 2
    assert info["n_top_ifd"] == 4 and info["k"] == 2
    assert diversity_text(records[0]) == "q0\n\na0"
