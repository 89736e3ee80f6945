"""BPC of every run's model on the corpora in eval.bpc.corpora, gathered per run into metrics.json."""


localrules:
    bpc_metrics,


rule bpc:
    input:
        model=run_model_dir,
        corpus="resources/corpora/{corpus}.jsonl",
    output:
        result="results/eval/{run}/bpc/{corpus}.json",
    log:
        "logs/bpc/{run}/{corpus}.log",
    benchmark:
        "benchmarks/bpc/{run}/{corpus}.tsv"
    params:
        version=EVALUATORS["bpc"].version,
        settings=bpc_settings(),
    threads: 4
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=eval_gpus_per_job(),
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
        "logs/bpc_metrics/{run}.log",
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/bpc.py"
