"""IterIT: selection during training. Each IterIT run (method kind `iterit`) is one Axolotl run on
the whole pool whose epochs train on the subsets IterIT picks (workflow_lib/train/iterit.py); it
writes the run's model folder like the train rule, plus iterit/epoch*.json. The epoch-0 scores
with the base model are the implicit scorer `iterit-{model}`'s (rules ifd_score_shard and
ifd_gather, workflow_lib/config/scorers.py), computed once per pool and model and shared by the runs.
"""


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
