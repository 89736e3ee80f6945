"""Pairwise judging (Superfiltering, Cherry LLM): the five test sets, the answers of every run of
a pair, the judgments of each (run, reference run) pair in both orders, and each judged run's
metrics.json."""


localrules:
    pairwise_data,
    pairwise_metrics,


rule pairwise_data:
    input:
        unpack(pairwise_source_files),
    output:
        sets=PAIRWISE_SETS,
        manifest="resources/pairwise/manifest.json",
    log:
        "logs/pairwise_data.log",
    params:
        questions=PAIRWISE["questions"],
        local_data=PAIRWISE["local_data"],
        check_sha256=PAIRWISE["check_sha256"],
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise.py"


rule pairwise_answers:
    input:
        model=run_model_dir,
        sets=PAIRWISE_SETS,
        data="resources/pairwise/manifest.json",
    output:
        answers="results/eval/{run}/pairwise/answers.jsonl",
        manifest="results/eval/{run}/pairwise/answers.manifest.json",
    log:
        "logs/pairwise_answers/{run}.log",
    benchmark:
        "benchmarks/pairwise_answers/{run}.tsv"
    params:
        version=EVALUATORS["pairwise"].version,
        questions=pairwise_questions(),
        generation=pairwise_generation(),
    # One thread per job, as for MT-bench (`--set-threads pairwise_answers=N` raises it).
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus_per_job(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise.py"


rule pairwise_judge:
    input:
        answers="results/eval/{run}/pairwise/answers.jsonl",
        reference="results/eval/{reference}/pairwise/answers.jsonl",
        sets=PAIRWISE_SETS,
    output:
        judgments="results/eval/{run}/pairwise/vs_{reference}/judgments.jsonl",
    log:
        "logs/pairwise_judge/{run}/vs_{reference}.log",
    benchmark:
        "benchmarks/pairwise_judge/{run}/vs_{reference}.tsv"
    params:
        questions=pairwise_questions(),
        judge=judge_settings("pairwise"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
        api_calls=PAIRWISE["judge"]["parallel"],
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise.py"


rule pairwise_metrics:
    input:
        judgments=pairwise_judgments,
    output:
        metrics=EVALUATORS["pairwise"].metrics,
    log:
        "logs/pairwise_metrics/{run}.log",
    params:
        labels=pairwise_labels,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise.py"


rule pairwise_all:
    input:
        expand(
            EVALUATORS["pairwise"].metrics,
            run=EVALUATORS["pairwise"].evaluated_runs(config, list(RUNS)),
        ),
