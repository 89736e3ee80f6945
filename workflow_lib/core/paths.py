"""Every file and folder pattern of the workflow, defined once: the rules (`rules/*.smk`), the run
grid (`config.grid`) and the registries (`evaluate.registry`) take their paths from here, and no
`.smk` file spells a `results/`, `resources/`, `logs/` or `benchmarks/` path of its own
(tests/unit/core/test_paths.py greps them).

Patterns keep Snakemake's `{wildcard}` fields unfilled; `fill(pattern, **values)` fills them. Each
tree has one root constant, so that a per-study root can be put on top of `RESULTS` alone.

Standard library only: the Snakefile reads this module while it builds the job graph.
"""

from __future__ import annotations

RESULTS = "results"  # what a study computes (pools, scores, selections, models, evaluations)
RESOURCES = "resources"  # inputs made or downloaded once (raw pools, base models, corpora, data)
LOGS = "logs"  # one log per job: logs/<rule>/<wildcards>.log
BENCHMARKS = "benchmarks"  # one benchmark per compute job: benchmarks/<rule>/<wildcards>.tsv


def _results(path: str) -> str:
    return f"{RESULTS}/{path}"


def _resources(path: str) -> str:
    return f"{RESOURCES}/{path}"


def fill(pattern: str, **values: object) -> str:
    """`pattern` with the named wildcards filled in (the others stay as they are)."""
    for name, value in values.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


def log(job: str) -> str:
    """The log of a job: `job` is the rule's folder and its wildcards (`bpc/{run}/{corpus}`)."""
    return f"{LOGS}/{job}.log"


def benchmark(job: str) -> str:
    """The benchmark file of a job, named like its log."""
    return f"{BENCHMARKS}/{job}.tsv"


# Data: raw pools (downloaded or generated), the demo pool's held-out split, canonical pools.
RAW_POOL = _resources("pools/{pool}.raw.jsonl")
POOL_DOWNLOAD_MANIFEST = _resources("pools/{pool}.download.json")
POOL_COMPOSITION = _resources("pools/{pool}.composition.json")
HELDOUT = _resources("eval/{pool}/heldout.jsonl")
HELDOUT_MC = _resources("eval/{pool}/heldout_mc.jsonl")
POOL = _results("pools/{pool}.jsonl")
POOL_MANIFEST = _results("pools/{pool}.manifest.json")

# BPC corpora and base models.
CORPUS = _resources("corpora/{corpus}.jsonl")
CORPUS_MANIFEST = _resources("corpora/{corpus}.manifest.json")
BASE_MODEL = _resources("models/{model}")

# Scores: a scorer's shards, gathered into one parquet file; IterIT's epoch-0 scores.
SCORE_SHARD = _results("scores/{pool}/{scorer}/{scatteritem}.jsonl")
SCORES = _results("scores/{pool}/{scorer}.parquet")
SCORES_MANIFEST = _results("scores/{pool}/{scorer}.manifest.json")

# Selections, fine-tuned models and their checkpoints.
SELECTION = _results("selections/{pool}/{method}/{budget}")
SELECTION_DATA = SELECTION + "/data.jsonl"
SELECTION_MANIFEST = SELECTION + "/manifest.json"
MODEL = _results("models/{run}")
CHECKPOINTS = _results("checkpoints/{run}")

# Evaluation: one folder per run and evaluator (its files: the evaluator's registry entry), with
# one tidy metrics.json; lm-eval's task folder is shared by all runs.
EVAL = _results("eval/{run}/{evaluator}")
METRICS = EVAL + "/metrics.json"
LMEVAL_TASKS = _results("eval/tasks")

# Evaluation data copied or written once: MT-bench's and the pairwise test sets.
MTBENCH_DATA = _resources("mtbench")
MTBENCH_QUESTIONS = MTBENCH_DATA + "/question.jsonl"
MTBENCH_REFERENCES = MTBENCH_DATA + "/reference_answer/gpt-4.jsonl"
MTBENCH_PROMPTS = MTBENCH_DATA + "/judge_prompts.jsonl"
MTBENCH_DATA_MANIFEST = MTBENCH_DATA + "/manifest.json"
PAIRWISE_DATA = _resources("pairwise")
PAIRWISE_SET = PAIRWISE_DATA + "/{file}"
PAIRWISE_DATA_MANIFEST = PAIRWISE_DATA + "/manifest.json"
ALPACA_EVAL_REFERENCE = _resources("alpaca_eval/reference_outputs.json")
ALPACA_EVAL_DATA_MANIFEST = _resources("alpaca_eval/manifest.json")

# The report: tables and plots.
TABLES = _results("tables")
PLOTS = _results("plots")
METRICS_TABLE = TABLES + "/metrics.csv"
MAIN_TABLE = TABLES + "/main.{ext}"  # md, csv, tex
CORRELATIONS = TABLES + "/correlations.csv"
SELECTIONS_TABLE = TABLES + "/selections.{ext}"  # csv, md
COSTS_TABLE = TABLES + "/costs.{ext}"  # csv, md
PLOT = PLOTS + "/{plot}.{ext}"  # bpc_vs_score, entropy_law, pairwise; png, svg
SELECTION_PLOT = PLOTS + "/selections/{pool}/{plot}.{ext}"
