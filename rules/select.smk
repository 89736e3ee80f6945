"""Selection methods: each writes results/selections/{pool}/{method}/{budget}/{data.jsonl,manifest.json}."""


rule select_baseline:
    input:
        pool="results/pools/{pool}.jsonl",
    output:
        data="results/selections/{pool}/{method}/{budget}/data.jsonl",
        manifest="results/selections/{pool}/{method}/{budget}/manifest.json",
    log:
        "logs/select_baseline/{pool}/{method}/{budget}.log",
    benchmark:
        "benchmarks/select_baseline/{pool}/{method}/{budget}.tsv"
    params:
        method=method_params,
    wildcard_constraints:
        method=_alternatives(methods_of_kind(config, "full", "random", "longest")),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/select_baseline.py"


# A selection-only run ends with its report: `snakemake select_all --report report.html`.
rule select_all:
    input:
        selection_outputs(file_selections()),
        selection_report_files(),
