"""Selections from a pool file: one rule for every kind of the registry that selects from a
file (workflow_lib/select/registry.py), writing data.jsonl and manifest.json in
the selection folder of core.paths."""


rule select:
    input:
        unpack(selection_inputs),
    output:
        data=paths.SELECTION_DATA,
        manifest=paths.SELECTION_MANIFEST,
    log:
        paths.log("select/{pool}/{method}/{budget}"),
    benchmark:
        paths.benchmark("select/{pool}/{method}/{budget}")
    params:
        method=entry_params("methods", "method"),
        scorer=method_scorer,
        device=selection_device,
    wildcard_constraints:
        method=alternatives(file_methods(config)),
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
    """Every selection file of the grid, with the selection report."""
    input:
        selection_outputs(config),
        selection_report_files(config),
