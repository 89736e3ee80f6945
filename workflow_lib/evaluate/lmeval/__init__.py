"""lm-eval harness: the task folder (demo held-out and local tasks) and the metrics read
from its results. Imports `core` and `evaluate.metrics`.
"""
