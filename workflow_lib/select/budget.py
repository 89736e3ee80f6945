"""Selection budgets: a count of records, a fraction of the pool, or "all".

Every method checks a budget against its pool with `check_budget`, so a budget larger than the
pool fails the same way everywhere: one `ERROR:` line (a `UserError`).
"""

from __future__ import annotations

from workflow_lib.core.errors import UserError


class BudgetError(UserError):
    """The budget cannot be met by the pool."""


def check_budget(budget: int | float | str, n_pool: int) -> None:
    """Raise BudgetError when a count budget asks for more records than the pool holds."""
    if isinstance(budget, int) and budget > n_pool:
        raise BudgetError(f"budget {budget} exceeds the pool size {n_pool}")


def resolve_budget(budget: int | float | str, n_pool: int) -> int:
    """Number of records a budget asks for: a count, a fraction of the pool (rounded), or 'all'."""
    if budget == "all":
        return n_pool
    if isinstance(budget, float):
        if not 0 < budget < 1:
            raise BudgetError(f"fractional budget must be in (0, 1), got {budget}")
        return max(1, round(budget * n_pool))
    check_budget(budget, n_pool)
    return budget
