"""The pipeline configuration: schema validation with defaults and cross-references, the schema
composed from the registries (`validate`), the experiment grid of selections and runs (`grid`),
and what the rules ask of a config beyond single values (`targets`). Above `select` and
`evaluate` in the layers: imports `core`, the selection registry and budgets (`select.registry`,
`select.budget`), the evaluator registry, the inference settings and the pairwise pairs
(`evaluate.registry`, `.inference`, `.pairwise.pairs`), all free of torch.
"""
