"""MT-bench: questions (FastChat files or the demo set), answer generation and
judging through the judge client. Imports `core`, `data`, `models`, `evaluate.judge` and
`evaluate.metrics`.
"""
