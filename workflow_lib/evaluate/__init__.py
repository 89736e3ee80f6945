"""Evaluators of a trained model: BPC on corpora, lm-eval tasks and metrics, MT-bench
answers and judging, and the OpenAI-compatible judge client and stand-in server.
Imports `core`, `data`, `models` and `scoring`.
"""
