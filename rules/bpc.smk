"""BPC of every run's model on the corpora in eval.bpc.corpora, gathered per run into metrics.json."""

from workflow_lib.config import runs


localrules:
    bpc_metrics,


# --- to be moved to rules/common.smk (RUNS, run_model_dir, eval_device, eval_gpus are the same
# as in rules/evaluate.smk: keep one copy) ------------------------------------------------------
RUNS = {run.name: run for run in runs(config)}


def run_model_dir(wildcards):
    """Model folder a run evaluates: its base model's, or its fine-tune's."""
    return RUNS[wildcards.run].model_dir


def eval_device():
    """Torch device of evaluation jobs (train.device decides, as for training)."""
    return "cuda" if config["train"]["device"] == "gpu" else "cpu"


def eval_gpus():
    """GPUs an evaluation job asks the scheduler for."""
    return int(config["train"]["device"] == "gpu")


def bpc_settings():
    """What a BPC job computes with (eval.bpc without the corpus list, plus the device)."""
    bpc = config["eval"]["bpc"]
    return {
        **{key: bpc[key] for key in ("block_size", "stride", "batch_size", "dtype")},
        "device": eval_device(),
    }


def bpc_results(wildcards):
    """A run's per-corpus BPC results, in the order of eval.bpc.corpora."""
    return expand(
        "results/eval/{run}/bpc/{corpus}.json",
        run=wildcards.run,
        corpus=config["eval"]["bpc"]["corpora"],
    )


# ------------------------------------------------------------------------------------------------


rule bpc:
    input:
        model=run_model_dir,
        corpus="resources/corpora/{corpus}.jsonl",
    output:
        result="results/eval/{run}/bpc/{corpus}.json",
    log:
        "logs/bpc/{run}/{corpus}.log",
    benchmark:
        "benchmarks/bpc/{run}/{corpus}.tsv"
    params:
        settings=bpc_settings(),
    threads: 4
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/bpc.py"


rule bpc_metrics:
    input:
        bpc_results,
    output:
        metrics="results/eval/{run}/bpc/metrics.json",
    log:
        "logs/bpc_metrics/{run}.log",
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/bpc.py"
