"""Base models: convert, download or build them into plain Hugging Face folders, and check them."""


rule prepare_model:
    input:
        unpack(model_inputs),
    output:
        directory("resources/models/{model}"),
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    params:
        model=model_config,
        offline=config["offline"],
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/prepare_model.py"


rule models:
    input:
        expand("resources/models/{model}", model=config["models"]),
