"""Tables and plots over the runs' metrics and the selections' manifests. Imports `core`,
`config`, `select` and the evaluators' metrics readers.
"""
