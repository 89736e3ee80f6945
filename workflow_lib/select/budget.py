"""Selection budgets: a count of records, a fraction of the pool, or "all".

A `Budget` is the value a user writes (and its path label); how a fraction becomes a number of
records is the method's `Rounding`, the rule of the reference it follows, which the registry
names per kind. Every method resolves its budget through `Budget.count`, so an impossible budget
fails the same way everywhere: one `ERROR:` line (a `BudgetError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from workflow_lib.core.errors import UserError


class BudgetError(UserError):
    """The budget cannot be met: a count larger than the pool, a fraction outside (0, 1), or a
    fraction that gives no record."""


class Rounding(Enum):
    """How a fraction f of n records becomes a number of records."""

    ROUND = "round"  # max(1, round(f · n)), halves to even: the baselines and ZIP (project rule)
    TRUNCATE = "truncate"  # int(f · n): Superfiltering's select_data.py, Cherry's data_by_IFD.py
    FLOOR = "floor"  # math.floor(f · n): IterIT's ratio

    def apply(self, fraction: float, n: int) -> int:
        """Records that `fraction` of `n` records gives under this rule."""
        if self is Rounding.ROUND:
            return max(1, round(fraction * n))
        if self is Rounding.TRUNCATE:
            return int(n * fraction)
        return math.floor(n * fraction)


@dataclass(frozen=True)
class Budget:
    """A count of records (int), a fraction of the pool (float) or "all"."""

    value: int | float | str

    @classmethod
    def from_config(cls, value: int | float | str) -> Budget:
        """The budget a config value means: a whole number written as a float is that count
        (100.0 is 100 records), so that it has one path label; 1.0 is a BudgetError, being
        ambiguous (1 is one record, "all" the whole pool)."""
        if isinstance(value, float) and value.is_integer():
            if value == 1:
                raise BudgetError('1.0 is ambiguous: write 1 for one record or "all" for the '
                                  "whole pool (a fraction is below 1)")
            return cls(int(value))
        return cls(value)

    @classmethod
    def parse(cls, label: str) -> Budget:
        """The budget of a path label ('200', '0.05' or 'all'; the inverse of `label`)."""
        if label == "all":
            return cls(label)
        return cls(float(label) if "." in label else int(label))

    @property
    def label(self) -> str:
        """Path component of the budget: '200', '0.05' or 'all'."""
        return str(self.value)

    def check(self, n_pool: int) -> None:
        """Raise BudgetError unless the budget can be asked of a pool of `n_pool` records."""
        if isinstance(self.value, float) and not 0 < self.value < 1:
            raise BudgetError(f"fractional budget must be in (0, 1), got {self.value}")
        if isinstance(self.value, int) and self.value > n_pool:
            raise BudgetError(f"budget {self.value} exceeds the pool size {n_pool}")
        if isinstance(self.value, int) and self.value < 1:
            raise BudgetError(f"a budget must be at least 1 record, got {self.value}")

    def count(self, n_pool: int, rounding: Rounding, *, of: int | None = None) -> int:
        """Records the budget asks for: a count as it is, a fraction of `of` records (default:
        the pool) under `rounding`, "all" = `of` (default: the pool). Checked against the pool
        first (`check`); a fraction that gives no record is a BudgetError."""
        self.check(n_pool)
        base = n_pool if of is None else of
        if self.value == "all":
            return base
        if isinstance(self.value, int):
            return self.value
        k = rounding.apply(self.value, base)
        if k < 1:
            raise BudgetError(f"budget {self.value} of {base} records gives {k} records "
                              f"({rounding.value}); it must give at least 1")
        return k
