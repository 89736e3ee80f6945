"""Selection methods and what they share: the registry of selection kinds, budgets, the
selection files, baselines, ZIP, IFD-based selection and IterIT's in-training selection.
Imports `core`, `data`, `models` and `scoring`.
"""
