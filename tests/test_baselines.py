"""Baseline selections: full, seeded random, longest; budget resolution."""

import pytest

from workflow_lib.baselines import (
    BudgetError,
    resolve_budget,
    response_length,
    select_baseline,
    select_longest,
    select_random,
)


def record(i: int, response: str) -> dict:
    return {"id": f"r{i}", "source": "t", "meta": {},
            "conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt",
                                                                    "value": response}]}


POOL = [record(i, "x" * (i % 7) + " word" * (i % 3)) for i in range(50)]


def test_full_keeps_everything_in_order():
    assert select_baseline("full", POOL, "all", {"kind": "full"}) == list(range(50))


def test_random_is_seeded_distinct_and_sized():
    a = select_random(POOL, 10, seed=3)
    assert a == select_random(POOL, 10, seed=3)
    assert a != select_random(POOL, 10, seed=4)
    assert len(set(a)) == 10 and all(0 <= i < 50 for i in a)


def test_longest_orders_by_response_length_with_stable_ties():
    chosen = select_longest(POOL, 8)
    lengths = [response_length(POOL[i]) for i in chosen]
    assert lengths == sorted(lengths, reverse=True)
    assert min(lengths) >= max(response_length(POOL[i]) for i in range(50) if i not in chosen)
    ties = [i for i in chosen if response_length(POOL[i]) == lengths[-1]]
    assert ties == sorted(ties)


def test_longest_counts_all_assistant_turns_and_words():
    multi = record(0, "a b")
    multi["conversations"] += [{"from": "human", "value": "more"}, {"from": "gpt", "value": "c"}]
    assert response_length(multi, "words") == 3


@pytest.mark.parametrize(("budget", "n", "expected"), [
    (10, 50, 10), (50, 50, 50), (0.1, 50, 5), (0.001, 50, 1), ("all", 50, 50)])
def test_resolve_budget(budget, n, expected):
    assert resolve_budget(budget, n) == expected


def test_budget_larger_than_pool_is_an_error():
    with pytest.raises(BudgetError, match="budget 51 exceeds the pool size 50"):
        select_baseline("random", POOL, 51, {"kind": "random", "seed": 0})
