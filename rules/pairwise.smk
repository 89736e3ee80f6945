"""Pairwise judging (Superfiltering, Cherry LLM): the five test sets, the answers of every run of
a pair, the judgments of each (run, reference run) pair in both orders, and each judged run's
metrics.json."""


localrules:
    pairwise_data,
    pairwise_metrics,


rule pairwise_data:
    """Internal step of pairwise_all: the test sets."""
    input:
        unpack(pairwise_source_files),
    output:
        sets=expand(paths.PAIRWISE_SET, file=TESTSET_FILES),
        manifest=paths.PAIRWISE_DATA_MANIFEST,
    log:
        paths.log("pairwise_data"),
    params:
        questions=lookup(dpath="eval/pairwise/questions", within=config),
        local_data=lookup(dpath="eval/pairwise/local_data", within=config),
        check_sha256=lookup(dpath="eval/pairwise/check_sha256", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise_data.py"


rule pairwise_answers:
    input:
        model=run_model_dir,
        sets=expand(paths.PAIRWISE_SET, file=TESTSET_FILES),
        data=paths.PAIRWISE_DATA_MANIFEST,
    output:
        answers=EVALUATORS["pairwise"].path("answers"),
        manifest=EVALUATORS["pairwise"].path("answers_manifest"),
    log:
        paths.log("pairwise_answers/{run}"),
    benchmark:
        paths.benchmark("pairwise_answers/{run}")
    params:
        version=EVALUATORS["pairwise"].version,
        questions=EVALUATORS["pairwise"].setting(config, "questions"),
        generation=EVALUATORS["pairwise"].setting(config, "generation"),
    # One thread per job, as for MT-bench (`--set-threads pairwise_answers=N` raises it).
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise_answers.py"


rule pairwise_judge:
    input:
        answers=EVALUATORS["pairwise"].path("answers"),
        reference=EVALUATORS["pairwise"].path("answers", "{reference}"),
        sets=expand(paths.PAIRWISE_SET, file=TESTSET_FILES),
    output:
        judgments=EVALUATORS["pairwise"].path("judgments"),
    log:
        paths.log("pairwise_judge/{run}/vs_{reference}"),
    benchmark:
        paths.benchmark("pairwise_judge/{run}/vs_{reference}")
    params:
        questions=EVALUATORS["pairwise"].setting(config, "questions"),
        judge=EVALUATORS["pairwise"].setting(config, "judge"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
        api_calls=lookup(dpath="eval/pairwise/judge/parallel", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise_judge.py"


rule pairwise_metrics:
    input:
        judgments=pairwise_judgments,
    output:
        metrics=EVALUATORS["pairwise"].metrics,
    log:
        paths.log("pairwise_metrics/{run}"),
    params:
        labels=pairwise_labels,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise_metrics.py"


rule pairwise_all:
    """Pairwise judging of the configured pairs."""
    input:
        expand(
            EVALUATORS["pairwise"].metrics,
            run=EVALUATORS["pairwise"].evaluated_runs(config, RUNS.values()),
        ),
