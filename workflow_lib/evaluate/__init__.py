"""Evaluators of a trained model: BPC on corpora, lm-eval tasks and metrics, MT-bench
answers and judging, pairwise judging against a reference run (Superfiltering), and the
OpenAI-compatible judge client, judgment cache and stand-in server.
Imports `core`, `data`, `models` and `scoring`.
"""
