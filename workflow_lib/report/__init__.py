"""Tables and plots over the runs' metrics and the selections' manifests. Imports `core`,
`config`, `select`, and of `evaluate` only the metrics contract and the evaluator registry.
"""
