"""lm-eval on every run's model, with one task folder shared by all runs."""


localrules:
    lmeval_tasks,


rule lmeval_tasks:
    """Internal step of eval_all: the demo pools' held-out lm-eval tasks."""
    input:
        unpack(lmeval_task_inputs),
    output:
        directory(paths.LMEVAL_TASKS),
    log:
        paths.log("lmeval_tasks"),
    params:
        lmeval=EVALUATORS["lmeval"].setting(config, "tasks"),
        heldout_pools=lmeval_heldout_pools(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/lmeval_tasks.py"


rule lmeval:
    input:
        model=run_model_dir,
        tasks=paths.LMEVAL_TASKS,
    output:
        results=EVALUATORS["lmeval"].path("results"),
        metrics=EVALUATORS["lmeval"].metrics,
        manifest=EVALUATORS["lmeval"].path("manifest"),
    log:
        paths.log("lmeval/{run}"),
    benchmark:
        paths.benchmark("lmeval/{run}")
    params:
        version=EVALUATORS["lmeval"].version,
        inference=EVALUATORS["lmeval"].setting(config, "inference"),
        batch_size=lookup(dpath="eval/lmeval/batch_size", within=config),
        limit=lookup(dpath="eval/lmeval/limit", within=config),
        apply_chat_template=EVALUATORS["lmeval"].setting(config, "apply_chat_template"),
        confirm_run_unsafe_code=lookup(
            dpath="eval/lmeval/confirm_run_unsafe_code", within=config
        ),
        offline=lookup(dpath="offline", within=config),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus(config),
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/lmeval.py"


rule eval_all:
    """Every enabled evaluator on every run it evaluates."""
    input:
        eval_metrics_files(config, RUNS),
