"""Fine-tuning: each run's base model on its selection with Axolotl, into results/models/{run}/.

Checkpoints live in results/checkpoints/{run}/, outside the declared output (which Snakemake
deletes before a job starts), so a restarted job resumes from the newest one.
"""

from workflow_lib.config import runs

# --- to be moved to rules/common.smk ----------------------------------------------------------
FINETUNE_RUNS = {run.name: run for run in runs(config) if run.selection is not None}


wildcard_constraints:
    run=_alternatives(FINETUNE_RUNS),


def train_inputs(wildcards):
    """The run's selection and its base model folder."""
    run = FINETUNE_RUNS[wildcards.run]
    return {
        "data": f"{run.selection.path}/data.jsonl",
        "base_model": f"resources/models/{run.base_model}",
    }


def train_gpus(wildcards):
    """GPUs a training job asks the scheduler for."""
    return 1 if config["train"]["device"] == "gpu" else 0


# ------------------------------------------------------------------------------------------------


rule train:
    input:
        unpack(train_inputs),
    output:
        directory("results/models/{run}"),
    log:
        "logs/train/{run}.log",
    benchmark:
        "benchmarks/train/{run}.tsv"
    params:
        train=config["train"],
        work_dir="results/checkpoints/{run}",
        tools_python=config["tools_python"],
        offline=config["offline"],
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=train_gpus,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_model.py"


rule train_all:
    input:
        expand("results/models/{run}", run=FINETUNE_RUNS),
