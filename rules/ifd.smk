"""IFD scoring (Superfiltering, Cherry) in shards, gathered per pool and scorer; the selections
built on it (superfiltering, cherry, superfiltering_d) are rule select's."""


scattergather:
    ifd=config["scoring"]["shards"],


rule ifd_score_shard:
    input:
        pool="results/pools/{pool}.jsonl",
        model=scorer_model_dir,
    output:
        shard="results/scores/{pool}/{scorer}/{scatteritem}.jsonl",
    log:
        "logs/ifd_score_shard/{pool}/{scorer}/{scatteritem}.log",
    benchmark:
        "benchmarks/ifd_score_shard/{pool}/{scorer}/{scatteritem}.tsv"
    params:
        scorer=scorer_params,
        device=eval_device(),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=gpus_per_job(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/ifd_score.py"


rule ifd_gather:
    input:
        pool="results/pools/{pool}.jsonl",
        shards=gather.ifd("results/scores/{{pool}}/{{scorer}}/{scatteritem}.jsonl"),
        model=scorer_model_dir,
    output:
        scores="results/scores/{pool}/{scorer}.parquet",
        manifest="results/scores/{pool}/{scorer}.manifest.json",
    log:
        "logs/ifd_gather/{pool}/{scorer}.log",
    benchmark:
        "benchmarks/ifd_gather/{pool}/{scorer}.tsv"
    params:
        scorer=scorer_params,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/ifd_score.py"
