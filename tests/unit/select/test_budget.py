"""Budgets: labels, the references' rounding rules, and one error for an impossible budget in
every method."""

import numpy as np
import pytest

from workflow_lib.core.errors import UserError
from workflow_lib.select.baselines import longest_selection, random_selection
from workflow_lib.select.budget import Budget, BudgetError, Rounding
from workflow_lib.select.ifd import ifd_selection, select_superfiltering_d
from workflow_lib.select.registry import selection_kind
from workflow_lib.select.request import SelectionRequest
from workflow_lib.select.zip import zip_selection
from workflow_lib.train.iterit import subset_size

N = 30
POOL = [{"id": f"r{i}", "source": "s", "meta": {},
         "conversations": [{"from": "human", "value": f"question {i}"},
                           {"from": "gpt", "value": "answer " * i}]} for i in range(N)]
ROWS = [{"ifd": 0.1 + i / 100, "reason": None} for i in range(N)]


def embed(texts: list[str]) -> np.ndarray:
    return np.array([[len(t), 1.0] for t in texts])


def request(kind: str, budget, params: dict, **scored) -> SelectionRequest:
    """A request as rule `select` makes it: the kind's rounding from the registry."""
    return SelectionRequest(POOL, Budget(budget), selection_kind(kind).rounding,
                            {"kind": kind, **params}, **scored)


def ifd_request(kind: str, budget) -> SelectionRequest:
    return request(kind, budget, {"threshold": 1.0}, scores=ROWS,
                   scorer={"name": "s", "preset": kind, "max_length": None})


def test_a_config_budget_written_as_a_whole_float_is_that_count():
    assert Budget.from_config(100.0) == Budget(100) and Budget.from_config(100.0).label == "100"
    assert Budget.from_config(0.5) == Budget(0.5) and Budget.from_config("all") == Budget("all")
    with pytest.raises(BudgetError, match=r'1\.0 is ambiguous: write 1 for one record or "all"'):
        Budget.from_config(1.0)


@pytest.mark.parametrize(("label", "value"), [("all", "all"), ("120", 120), ("0.05", 0.05)])
def test_budget_labels_round_trip(label, value):
    assert Budget.parse(label) == Budget(value)
    assert Budget(value).label == label


@pytest.mark.parametrize(("budget", "n", "expected"), [
    (10, 50, 10), (50, 50, 50), (0.1, 50, 5), (0.001, 50, 1), ("all", 50, 50)])
def test_round_counts(budget, n, expected):
    assert Budget(budget).count(n, Rounding.ROUND) == expected


def test_the_references_rounding_rules():
    assert Rounding.ROUND.apply(0.5, 5) == 2  # halves to even
    assert Rounding.ROUND.apply(0.7, 5) == 4 and Rounding.ROUND.apply(0.01, 5) == 1
    assert Rounding.TRUNCATE.apply(0.7, 5) == 3 and Rounding.TRUNCATE.apply(0.05, 52002) == 2600
    assert Rounding.FLOOR.apply(0.7, 5) == 3 and Rounding.FLOOR.apply(0.05, 52002) == 2600
    assert Budget(0.7).count(100, Rounding.TRUNCATE, of=5) == 3  # a fraction of `of` records
    assert Budget("all").count(100, Rounding.TRUNCATE, of=5) == 5
    assert Budget(40).count(100, Rounding.TRUNCATE, of=5) == 40  # a count is checked on the pool


@pytest.mark.parametrize(("budget", "rounding", "message"), [
    (1.5, Rounding.ROUND, "fractional budget must be in (0, 1), got 1.5"),
    (0.0, Rounding.FLOOR, "fractional budget must be in (0, 1), got 0.0"),
    (0, Rounding.ROUND, "a budget must be at least 1 record, got 0"),
    (0.05, Rounding.FLOOR, "budget 0.05 of 10 records gives 0 records (floor)"),
    (0.09, Rounding.TRUNCATE, "budget 0.09 of 10 records gives 0 records (truncate)"),
])
def test_impossible_budgets_are_budget_errors(budget, rounding, message):
    with pytest.raises(BudgetError) as caught:
        Budget(budget).count(10, rounding)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("select", [
    lambda b: random_selection(request("random", b, {"seed": 0})),
    lambda b: longest_selection(request("longest", b, {})),
    lambda b: zip_selection(request("zip", b, {"mode": "reference", "k1": 10, "k2": 5, "k3": 5})),
    lambda b: zip_selection(request("zip", b, {"mode": "clean", "k1": 10, "k2": 5, "k3": 5})),
    lambda b: ifd_selection(ifd_request("superfiltering", b)),
    lambda b: ifd_selection(ifd_request("cherry", b)),
    lambda b: select_superfiltering_d(POOL, ROWS, Budget(b), Rounding.TRUNCATE, 0.5, embed),
    lambda b: subset_size(N, Budget(b)),
], ids=["random", "longest", "zip", "zip-clean", "superfiltering", "cherry",
        "superfiltering_d", "iterit"])
def test_a_budget_larger_than_the_pool_is_the_same_error_in_every_method(select):
    with pytest.raises(BudgetError) as caught:
        select(N + 1)
    assert str(caught.value) == f"budget {N + 1} exceeds the pool size {N}"
    assert isinstance(caught.value, UserError)  # one ERROR: line, no traceback (jobs.run_job)
    select(N)  # the whole pool is a valid budget
