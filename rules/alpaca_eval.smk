"""AlpacaEval 1.0 through the alpaca-eval package: the reference outputs, every run's answers,
and their annotation by the package's annotator config sent to the configured judge."""


localrules:
    alpaca_eval_data,


rule alpaca_eval_data:
    """Internal step of alpaca_eval_all: the reference outputs."""
    input:
        unpack(alpaca_eval_source),
    output:
        reference=paths.ALPACA_EVAL_REFERENCE,
        manifest=paths.ALPACA_EVAL_DATA_MANIFEST,
    log:
        paths.log("alpaca_eval_data"),
    params:
        reference=EVALUATORS["alpaca_eval"].setting(config, "reference"),
        offline=lookup(dpath="offline", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/alpaca_eval_data.py"


rule alpaca_eval_answers:
    input:
        model=run_model_dir,
        reference=paths.ALPACA_EVAL_REFERENCE,
    output:
        answers=EVALUATORS["alpaca_eval"].path("answers"),
        manifest=EVALUATORS["alpaca_eval"].path("answers_manifest"),
    log:
        paths.log("alpaca_eval_answers/{run}"),
    benchmark:
        paths.benchmark("alpaca_eval_answers/{run}")
    params:
        version=EVALUATORS["alpaca_eval"].version,
        generation=EVALUATORS["alpaca_eval"].setting(config, "generation"),
    # One thread per job, as for the other answers (`--set-threads alpaca_eval_answers=N`).
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/alpaca_eval_answers.py"


rule alpaca_eval_annotate:
    input:
        answers=EVALUATORS["alpaca_eval"].path("answers"),
        reference=paths.ALPACA_EVAL_REFERENCE,
    output:
        annotations=EVALUATORS["alpaca_eval"].path("annotations"),
        metrics=EVALUATORS["alpaca_eval"].metrics,
    log:
        paths.log("alpaca_eval_annotate/{run}"),
    benchmark:
        paths.benchmark("alpaca_eval_annotate/{run}")
    params:
        annotation=EVALUATORS["alpaca_eval"].setting(config, "annotation"),
        offline=lookup(dpath="offline", within=config),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
        api_calls=lookup(dpath="eval/alpaca_eval/judge/parallel", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/alpaca_eval_annotate.py"


rule alpaca_eval_all:
    """AlpacaEval win rates of the runs it evaluates."""
    input:
        expand(
            EVALUATORS["alpaca_eval"].metrics,
            run=EVALUATORS["alpaca_eval"].evaluated_runs(config, RUNS.values()),
        ),
