"""Budgets: resolution, and one error for a budget larger than the pool in every method."""

import numpy as np
import pytest

from workflow_lib.core.errors import UserError
from workflow_lib.scoring.ifd import preset
from workflow_lib.select.baselines import select_baseline
from workflow_lib.select.budget import BudgetError, resolve_budget
from workflow_lib.select.ifd import select_ifd, select_superfiltering_d
from workflow_lib.select.zip import select_zip
from workflow_lib.train.iterit import subset_size

N = 30
POOL = [{"id": f"r{i}", "source": "s", "meta": {},
         "conversations": [{"from": "human", "value": f"question {i}"},
                           {"from": "gpt", "value": "answer " * i}]} for i in range(N)]
ROWS = [{"ifd": 0.1 + i / 100, "reason": None} for i in range(N)]


def embed(texts: list[str]) -> np.ndarray:
    return np.array([[len(t), 1.0] for t in texts])


@pytest.mark.parametrize(("budget", "n", "expected"), [
    (10, 50, 10), (50, 50, 50), (0.1, 50, 5), (0.001, 50, 1), ("all", 50, 50)])
def test_resolve_budget(budget, n, expected):
    assert resolve_budget(budget, n) == expected


@pytest.mark.parametrize("select", [
    lambda b: select_baseline("random", POOL, b, {"kind": "random", "seed": 0}),
    lambda b: select_baseline("longest", POOL, b, {"kind": "longest"}),
    lambda b: select_zip(POOL, b, {"mode": "reference", "k1": 10, "k2": 5, "k3": 5}),
    lambda b: select_zip(POOL, b, {"mode": "clean", "k1": 10, "k2": 5, "k3": 5}),
    lambda b: select_ifd(ROWS, preset("superfiltering"), b),
    lambda b: select_ifd(ROWS, preset("cherry"), b),
    lambda b: select_superfiltering_d(POOL, ROWS, b, 0.5, embed),
    lambda b: subset_size(N, b),
], ids=["random", "longest", "zip", "zip-clean", "superfiltering", "cherry",
        "superfiltering_d", "iterit"])
def test_a_budget_larger_than_the_pool_is_the_same_error_in_every_method(select):
    with pytest.raises(BudgetError) as caught:
        select(N + 1)
    assert str(caught.value) == f"budget {N + 1} exceeds the pool size {N}"
    assert isinstance(caught.value, UserError)  # one ERROR: line, no traceback (jobs.run_job)
    select(N)  # the whole pool is a valid budget
