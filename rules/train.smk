"""Fine-tuning: each run's base model on its selection with Axolotl, into its model folder (core.paths).

Checkpoints live in their own folder (paths.CHECKPOINTS), outside the declared output (which Snakemake
deletes before a job starts), so a restarted job resumes from the newest one.
"""


rule train:
    input:
        unpack(train_inputs),
    output:
        directory(paths.MODEL),
    log:
        paths.log("train/{run}"),
    benchmark:
        paths.benchmark("train/{run}")
    params:
        train=lookup(dpath="train", within=config),
        work_dir=paths.CHECKPOINTS,
        offline=lookup(dpath="offline", within=config),
    wildcard_constraints:
        run=alternatives(FINETUNE_RUNS),
    threads: 2
    resources:
        **train_resources(config),
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_model.py"


rule train_all:
    """Every fine-tune of the grid (and IterIT runs)."""
    input:
        expand(paths.MODEL, run=[*FINETUNE_RUNS, *ITERIT_RUNS]),
