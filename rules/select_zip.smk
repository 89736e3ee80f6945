"""ZIP (Entropy Law) selection; same outputs as select_baseline."""


rule select_zip:
    input:
        pool="results/pools/{pool}.jsonl",
    output:
        data="results/selections/{pool}/{method}/{budget}/data.jsonl",
        manifest="results/selections/{pool}/{method}/{budget}/manifest.json",
    log:
        "logs/select_zip/{pool}/{method}/{budget}.log",
    benchmark:
        "benchmarks/select_zip/{pool}/{method}/{budget}.tsv"
    params:
        method=method_params,
    wildcard_constraints:
        method=_alternatives(methods_of_kind(config, "zip")),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/select_zip.py"
