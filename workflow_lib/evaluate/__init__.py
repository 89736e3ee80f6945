"""Evaluators of a trained model: the registry of evaluators and the metrics contract they
write through (`registry`, `metrics`), BPC on corpora, lm-eval tasks and metrics, MT-bench
answers and judging, pairwise judging against a reference run (Superfiltering), and the
OpenAI-compatible judge client, judgment cache and stand-in server.
How evaluation jobs load and place a model (`inference`: device, dtype, device map, GPUs).
Imports `core`, `data`, `models` and `scoring`; `registry` and `inference` import nothing when they
load (the Snakefile reads them; the registry's pairwise entry asks `config.grid` for the judged
runs when called) and `metrics` only `core` and `registry`.
"""
