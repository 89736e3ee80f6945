"""IterIT: selection during training. Each IterIT run (method kind `iterit`) is one Axolotl run on
the whole pool whose epochs train on the subsets IterIT picks (workflow_lib/train/iterit.py); it
writes results/models/{run}/ like the train rule, plus iterit/epoch*.json. The epoch-0 scores
with the base model are computed once per pool and model and shared by the runs.
"""


rule iterit_initial_scores:
    input:
        pool="results/pools/{pool}.jsonl",
        model="resources/models/{model}",
    output:
        scores="results/scores/{pool}/iterit-{model}.parquet",
        manifest="results/scores/{pool}/iterit-{model}.manifest.json",
    log:
        "logs/iterit_initial_scores/{pool}/{model}.log",
    benchmark:
        "benchmarks/iterit_initial_scores/{pool}/{model}.tsv"
    params:
        max_length=config["train"]["sequence_len"],
        batch_size=iterit_score_batch_size(),
        device=eval_device(),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=gpus_per_job(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/iterit_scores.py"


rule train_iterit:
    input:
        unpack(iterit_train_inputs),
    output:
        directory("results/models/{run}"),
    log:
        "logs/train_iterit/{run}.log",
    benchmark:
        "benchmarks/train_iterit/{run}.tsv"
    params:
        method=iterit_method,
        budget=iterit_budget,
        train=config["train"],
        work_dir="results/checkpoints/{run}",
        offline=config["offline"],
    wildcard_constraints:
        run=_alternatives(ITERIT_RUNS),
    threads: 2
    resources:
        **train_resources(),
        mem_mb=8000,
        runtime=240,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_iterit.py"
