"""Evaluators of a trained model: the registry of evaluators and the metrics contract they
write through (`registry`, `metrics`), BPC on corpora, lm-eval tasks and metrics, MT-bench
answers and judging, pairwise judging against a reference run (Superfiltering), AlpacaEval
through the alpaca-eval package, and the OpenAI-compatible judge client, judgment cache and
stand-in server. How evaluation jobs load and place a model (`inference`: device, dtype, device
map, GPUs).
Imports `core`, `data`, `models`, `scoring` and `select` (the selection registry, for the
pairwise pairs), never `config`: the registry's functions get the run grid as an argument.
`registry`, `inference`, `judge` (its package) and `pairwise.pairs` stay light (the Snakefile
reads them), and `metrics` imports only `core` and `registry`.
"""
