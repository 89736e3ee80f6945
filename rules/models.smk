"""Base models: convert, download or build them into plain Hugging Face folders, and check them."""


rule prepare_model:
    input:
        unpack(model_inputs),
    output:
        directory(paths.BASE_MODEL),
    log:
        paths.log("prepare_model/{model}"),
    benchmark:
        paths.benchmark("prepare_model/{model}")
    params:
        model=entry_params("models", "model"),
        offline=lookup(dpath="offline", within=config),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/prepare_model.py"


rule models:
    """Download or build every base model."""
    input:
        expand(paths.BASE_MODEL, model=lookup(dpath="models", within=config)),
