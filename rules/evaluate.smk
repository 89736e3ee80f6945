"""lm-eval on every run's model, with one task folder shared by all runs."""


localrules:
    lmeval_tasks,


rule lmeval_tasks:
    input:
        unpack(lmeval_task_inputs),
    output:
        directory("results/eval/tasks"),
    log:
        "logs/lmeval_tasks.log",
    params:
        lmeval=lmeval_task_settings(),
        heldout_pools=lmeval_heldout_pools(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/lmeval_tasks.py"


rule lmeval:
    input:
        model=run_model_dir,
        tasks="results/eval/tasks",
    output:
        results="results/eval/{run}/lmeval/results.json",
        metrics=EVALUATORS["lmeval"].metrics,
        manifest="results/eval/{run}/lmeval/manifest.json",
    log:
        "logs/lmeval/{run}.log",
    benchmark:
        "benchmarks/lmeval/{run}.tsv"
    params:
        version=EVALUATORS["lmeval"].version,
        inference=eval_inference(),
        batch_size=LMEVAL["batch_size"],
        limit=LMEVAL["limit"],
        apply_chat_template=LMEVAL["apply_chat_template"],
        confirm_run_unsafe_code=LMEVAL["confirm_run_unsafe_code"],
        offline=config["offline"],
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus_per_job(),
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/lmeval.py"


rule eval_all:
    input:
        eval_metrics_files(),
