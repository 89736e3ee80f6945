"""MT-bench: FastChat's data, every run's answers, and their judgments by the configured judge."""


localrules:
    mtbench_data,


rule mtbench_data:
    """Internal step of mtbench_all: the questions."""
    input:
        unpack(mtbench_source_files),
    output:
        questions=paths.MTBENCH_QUESTIONS,
        references=paths.MTBENCH_REFERENCES,
        prompts=paths.MTBENCH_PROMPTS,
        manifest=paths.MTBENCH_DATA_MANIFEST,
    log:
        paths.log("mtbench_data"),
    params:
        questions=lookup(dpath="eval/mtbench/questions", within=config),
        local_data=lookup(dpath="eval/mtbench/local_data", within=config),
        check_sha256=lookup(dpath="eval/mtbench/check_sha256", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/mtbench_data.py"


rule mtbench_answers:
    input:
        model=run_model_dir,
        questions=paths.MTBENCH_QUESTIONS,
    output:
        answers=EVALUATORS["mtbench"].path("answers"),
        manifest=EVALUATORS["mtbench"].path("answers_manifest"),
    log:
        paths.log("mtbench_answers/{run}"),
    benchmark:
        paths.benchmark("mtbench_answers/{run}")
    params:
        version=EVALUATORS["mtbench"].version,
        generation=EVALUATORS["mtbench"].setting(config, "generation"),
    # One thread per job: token-by-token generation of a small model gains little from more,
    # and loses much when cores are shared (`--set-threads mtbench_answers=N` raises it).
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/mtbench_answers.py"


rule mtbench_judge:
    input:
        answers=EVALUATORS["mtbench"].path("answers"),
        questions=paths.MTBENCH_QUESTIONS,
        references=paths.MTBENCH_REFERENCES,
        prompts=paths.MTBENCH_PROMPTS,
    output:
        judgments=EVALUATORS["mtbench"].path("judgments"),
        metrics=EVALUATORS["mtbench"].metrics,
    log:
        paths.log("mtbench_judge/{run}"),
    benchmark:
        paths.benchmark("mtbench_judge/{run}")
    params:
        judge=EVALUATORS["mtbench"].setting(config, "judge"),
        per_category=lookup(dpath="eval/mtbench/per_category", within=config),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
        api_calls=lookup(dpath="eval/mtbench/judge/parallel", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/mtbench_judge.py"


rule mtbench_all:
    """MT-bench answers and judgments of every run."""
    input:
        expand(EVALUATORS["mtbench"].metrics, run=RUNS),
