"""IterIT: selection during training. Each IterIT run (method kind `iterit`) is one Axolotl run on
the whole pool whose epochs train on the subsets IterIT picks (workflow_lib/train/iterit.py); it
writes the run's model folder like the train rule, plus iterit/epoch*.json. The epoch-0 scores
with the base model are computed once per pool and model and shared by the runs.
"""


rule iterit_initial_scores:
    input:
        pool=paths.POOL,
        model=paths.BASE_MODEL,
    output:
        scores=paths.ITERIT_SCORES,
        manifest=paths.ITERIT_SCORES_MANIFEST,
    log:
        paths.log("iterit_initial_scores/{pool}/{model}"),
    benchmark:
        paths.benchmark("iterit_initial_scores/{pool}/{model}")
    params:
        max_length=lookup(dpath="train/sequence_len", within=config),
        batch_size=iterit_score_batch_size(config),
        device=eval_device(config),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=gpus_per_job(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/iterit_scores.py"


rule train_iterit:
    input:
        unpack(iterit_train_inputs),
    output:
        directory(paths.MODEL),
    log:
        paths.log("train_iterit/{run}"),
    benchmark:
        paths.benchmark("train_iterit/{run}")
    params:
        method=iterit_method,
        budget=iterit_budget,
        train=lookup(dpath="train", within=config),
        work_dir=paths.CHECKPOINTS,
        offline=lookup(dpath="offline", within=config),
    wildcard_constraints:
        run=alternatives(ITERIT_RUNS),
    threads: 2
    resources:
        **train_resources(config),
        mem_mb=8000,
        runtime=240,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_iterit.py"
