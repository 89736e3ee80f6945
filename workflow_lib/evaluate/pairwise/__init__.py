"""Pairwise judging as Superfiltering and Cherry LLM evaluate (docs: `../shared/reference/
pairwise.md`, from tianyi-lab/Cherry_LLM): the five test sets (files at a pinned commit or the
demo set), answer generation with the Alpaca prompt, judging of both answer orders of each
(run, reference run) pair through the shared judge client and cache, and the win/tie/lose counts
and winning score. Imports `core`, `data`, `evaluate.judge` and `evaluate.mtbench.answers` (its
model loader).
"""
