"""BPC of every run's model on the corpora in eval.bpc.corpora, gathered per run into metrics.json."""


localrules:
    bpc_metrics,


rule bpc:
    input:
        model=run_model_dir,
        corpus=paths.CORPUS,
    output:
        result=EVALUATORS["bpc"].path("corpus"),
    log:
        paths.log("bpc/{run}/{corpus}"),
    benchmark:
        paths.benchmark("bpc/{run}/{corpus}")
    params:
        version=EVALUATORS["bpc"].version,
        settings=EVALUATORS["bpc"].setting(config, "compute"),
    threads: 4
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/bpc.py"


rule bpc_metrics:
    input:
        bpc_results,
    output:
        metrics=EVALUATORS["bpc"].metrics,
    log:
        paths.log("bpc_metrics/{run}"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/bpc_metrics.py"
