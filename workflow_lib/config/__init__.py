"""The pipeline configuration: schema validation with defaults and cross-references
(`validate`), and the experiment grid of selections and runs (`grid`). Imports `core`, and the
selection registry and budgets (`select.registry`, `select.budget`) and the evaluation
inference settings (`evaluate.inference`), all free of torch.
"""
