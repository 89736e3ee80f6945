"""MT-bench: questions (FastChat files or the demo set), answer generation and
judging through the judge client. Imports `core`, `data`, `models` and `evaluate.judge`.
"""
