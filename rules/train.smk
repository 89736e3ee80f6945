"""Fine-tuning: each run's base model on its selection with Axolotl, into results/models/{run}/.

Checkpoints live in results/checkpoints/{run}/, outside the declared output (which Snakemake
deletes before a job starts), so a restarted job resumes from the newest one.
"""


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
        offline=config["offline"],
    wildcard_constraints:
        run=_alternatives(FINETUNE_RUNS),
    threads: 2
    resources:
        **train_resources(),
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_model.py"


rule train_all:
    input:
        expand("results/models/{run}", run=[*FINETUNE_RUNS, *ITERIT_RUNS]),
