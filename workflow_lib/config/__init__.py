"""The pipeline configuration: schema validation with defaults and cross-references
(`validate`), and the experiment grid of selections and runs (`grid`). Imports `core`, and the
selection registry and budgets (`select.registry`, `select.budget`, both free of torch).
"""
