"""Selection methods and what they share: the registry of selection kinds (`registry`), the
request every file kind is called with (`request`), the job of rule `select` (`run`), budgets,
the selection files, baselines, ZIP, IFD-based selection and IterIT's in-training selection.
Imports `core`, `data`, `models` and `scoring`.
"""
