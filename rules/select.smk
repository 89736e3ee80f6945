"""Selections from a pool file: one rule for every kind of the registry that selects from a
file (workflow_lib/select/registry.py), writing data.jsonl and manifest.json in
results/selections/{pool}/{method}/{budget}/."""


rule select:
    input:
        unpack(selection_inputs),
    output:
        data="results/selections/{pool}/{method}/{budget}/data.jsonl",
        manifest="results/selections/{pool}/{method}/{budget}/manifest.json",
    log:
        "logs/select/{pool}/{method}/{budget}.log",
    benchmark:
        "benchmarks/select/{pool}/{method}/{budget}.tsv"
    params:
        method=method_params,
        scorer=method_scorer,
        device=selection_device,
    wildcard_constraints:
        method=_alternatives(file_methods()),
    threads: selection_threads
    resources:
        mem_mb=selection_mem_mb,
        runtime=selection_runtime,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/select.py"


# A selection-only run ends with its report: `snakemake select_all --report report.html`.
rule select_all:
    input:
        selection_outputs(file_selections()),
        selection_report_files(),
