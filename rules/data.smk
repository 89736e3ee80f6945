"""Data: generate or download raw pools and corpora, convert pools to canonical records."""


localrules:
    download_pool,
    prepare_corpus,


rule generate_demo_pool:
    output:
        pool="resources/pools/{pool}.raw.jsonl",
        heldout="resources/eval/{pool}/heldout.jsonl",
        heldout_mc="resources/eval/{pool}/heldout_mc.jsonl",
        composition="resources/pools/{pool}.composition.json",
    log:
        "logs/generate_demo_pool/{pool}.log",
    benchmark:
        "benchmarks/generate_demo_pool/{pool}.tsv"
    params:
        source=pool_source,
    wildcard_constraints:
        pool=_alternatives(pools_of_kind(config, "demo")),
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
        pool="resources/pools/{pool}.raw.jsonl",
        manifest="resources/pools/{pool}.download.json",
    log:
        "logs/download_pool/{pool}.log",
    params:
        source=pool_source,
        offline=config["offline"],
    wildcard_constraints:
        pool=_alternatives(pools_of_kind(config, "huggingface")),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/download_dataset.py"


rule convert_pool:
    input:
        raw_pool,
    output:
        pool="results/pools/{pool}.jsonl",
        manifest="results/pools/{pool}.manifest.json",
    log:
        "logs/convert_pool/{pool}.log",
    benchmark:
        "benchmarks/convert_pool/{pool}.tsv"
    params:
        format=pool_format,
        source_name=pool_source_name,
        limit=pool_limit,
        skip_incomplete=pool_skip_incomplete,
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
        corpus="resources/corpora/{corpus}.jsonl",
        manifest="resources/corpora/{corpus}.manifest.json",
    log:
        "logs/prepare_corpus/{corpus}.log",
    params:
        corpus=corpus_config,
        offline=config["offline"],
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/prepare_corpus.py"


rule pools:
    input:
        expand("results/pools/{pool}.jsonl", pool=config["pools"]),


rule corpora:
    input:
        expand("resources/corpora/{corpus}.jsonl", corpus=config["corpora"]),
