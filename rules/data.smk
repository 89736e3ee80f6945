"""Data: generate or download raw pools and corpora, convert pools to canonical records."""


localrules:
    download_pool,
    prepare_corpus,


rule generate_demo_pool:
    output:
        pool=paths.RAW_POOL,
        heldout=paths.HELDOUT,
        heldout_mc=paths.HELDOUT_MC,
        composition=paths.POOL_COMPOSITION,
    log:
        paths.log("generate_demo_pool/{pool}"),
    benchmark:
        paths.benchmark("generate_demo_pool/{pool}")
    params:
        source=lookup(dpath="pools/{pool}/source", within=config),
    wildcard_constraints:
        pool=alternatives(pools_of_kind(config, "demo")),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/generate_demo_pool.py"


rule download_pool:
    output:
        pool=paths.RAW_POOL,
        manifest=paths.POOL_DOWNLOAD_MANIFEST,
    log:
        paths.log("download_pool/{pool}"),
    params:
        source=lookup(dpath="pools/{pool}/source", within=config),
        offline=lookup(dpath="offline", within=config),
    wildcard_constraints:
        pool=alternatives(pools_of_kind(config, "huggingface")),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/download_dataset.py"


rule convert_pool:
    input:
        raw_pool,
    output:
        pool=paths.POOL,
        manifest=paths.POOL_MANIFEST,
    log:
        paths.log("convert_pool/{pool}"),
    benchmark:
        paths.benchmark("convert_pool/{pool}")
    params:
        format=pool_format,
        source_name=pool_source_name,
        limit=lookup(dpath="pools/{pool}/limit", within=config),
        skip_incomplete=lookup(dpath="pools/{pool}/skip_incomplete", within=config),
        drop=lookup(dpath="pools/{pool}/drop", within=config),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/convert_pool.py"


rule prepare_corpus:
    input:
        unpack(corpus_inputs),
    output:
        corpus=paths.CORPUS,
        manifest=paths.CORPUS_MANIFEST,
    log:
        paths.log("prepare_corpus/{corpus}"),
    params:
        corpus=entry_params("corpora", "corpus"),
        offline=lookup(dpath="offline", within=config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/prepare_corpus.py"


rule pools:
    """Download or generate and convert every pool to canonical JSONL."""
    input:
        expand(paths.POOL, pool=lookup(dpath="pools", within=config)),


rule corpora:
    """Prepare the BPC corpora."""
    input:
        expand(paths.CORPUS, corpus=lookup(dpath="corpora", within=config)),
