"""Baseline selections: full, seeded random, longest (budgets: test_budgets.py)."""

from workflow_lib.select.baselines import (
    full_selection,
    response_length,
    select_longest,
    select_random,
)
from workflow_lib.select.budget import Budget, Rounding
from workflow_lib.select.request import SelectionRequest


def record(i: int, response: str) -> dict:
    return {"id": f"r{i}", "source": "t", "meta": {},
            "conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt",
                                                                    "value": response}]}


POOL = [record(i, "x" * (i % 7) + " word" * (i % 3)) for i in range(50)]


def test_full_keeps_everything_in_order():
    request = SelectionRequest(POOL, Budget("all"), Rounding.ROUND, {"kind": "full"})
    assert full_selection(request).indices == list(range(50))


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
