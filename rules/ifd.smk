"""IFD scoring (Superfiltering, Cherry) in shards, gathered per pool and scorer; the selections
built on it (superfiltering, cherry, superfiltering_d) are rule select's."""


scattergather:
    ifd=lookup(dpath="scoring/shards", within=config),


rule ifd_score_shard:
    input:
        pool=paths.POOL,
        model=scorer_model_dir,
    output:
        shard=paths.SCORE_SHARD,
    log:
        paths.log("ifd_score_shard/{pool}/{scorer}/{scatteritem}"),
    benchmark:
        paths.benchmark("ifd_score_shard/{pool}/{scorer}/{scatteritem}")
    params:
        scorer=scorer_params,
        device=eval_device(config),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=gpus_per_job(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/ifd_score_shard.py"


rule ifd_gather:
    input:
        pool=paths.POOL,
        shards=score_shards,
        model=scorer_model_dir,
    output:
        scores=paths.SCORES,
        manifest=paths.SCORES_MANIFEST,
    log:
        paths.log("ifd_gather/{pool}/{scorer}"),
    benchmark:
        paths.benchmark("ifd_gather/{pool}/{scorer}")
    params:
        scorer=scorer_params,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/ifd_gather.py"
