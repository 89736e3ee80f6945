"""MT-bench: FastChat's data, every run's answers, and their judgments by the configured judge."""


localrules:
    mtbench_data,


rule mtbench_data:
    input:
        unpack(mtbench_source_files),
    output:
        questions="resources/mtbench/question.jsonl",
        references="resources/mtbench/reference_answer/gpt-4.jsonl",
        prompts="resources/mtbench/judge_prompts.jsonl",
        manifest="resources/mtbench/manifest.json",
    log:
        "logs/mtbench_data.log",
    params:
        questions=MTBENCH["questions"],
        local_data=MTBENCH["local_data"],
        check_sha256=MTBENCH["check_sha256"],
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/mtbench.py"


rule mtbench_answers:
    input:
        model=run_model_dir,
        questions="resources/mtbench/question.jsonl",
    output:
        answers="results/eval/{run}/mtbench/answers.jsonl",
        manifest="results/eval/{run}/mtbench/answers.manifest.json",
    log:
        "logs/mtbench_answers/{run}.log",
    benchmark:
        "benchmarks/mtbench_answers/{run}.tsv"
    params:
        version=EVALUATORS["mtbench"].version,
        generation=mtbench_generation(),
    # One thread per job: token-by-token generation of a small model gains little from more,
    # and loses much when cores are shared (`--set-threads mtbench_answers=N` raises it).
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus_per_job(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/mtbench.py"


rule mtbench_judge:
    input:
        answers="results/eval/{run}/mtbench/answers.jsonl",
        questions="resources/mtbench/question.jsonl",
        references="resources/mtbench/reference_answer/gpt-4.jsonl",
        prompts="resources/mtbench/judge_prompts.jsonl",
    output:
        judgments="results/eval/{run}/mtbench/judgments.jsonl",
        metrics=EVALUATORS["mtbench"].metrics,
    log:
        "logs/mtbench_judge/{run}.log",
    benchmark:
        "benchmarks/mtbench_judge/{run}.tsv"
    params:
        judge=judge_settings("mtbench"),
        per_category=MTBENCH["per_category"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
        api_calls=MTBENCH["judge"]["parallel"],
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/mtbench.py"


rule mtbench_all:
    input:
        expand(EVALUATORS["mtbench"].metrics, run=RUNS),
