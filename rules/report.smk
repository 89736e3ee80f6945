"""Report: the tidy metrics table, the paper tables and the plots (all in `snakemake --report`);
the selection table and plots: rules/selection_report.smk."""


localrules:
    collect_metrics,
    tables,
    bpc_plots,
    entropy_law_plot,
    pairwise_plot,


rule collect_metrics:
    input:
        metrics=eval_metrics_files(),
    output:
        metrics=report(
            "results/tables/metrics.csv",
            caption="../report/metrics.rst",
            category="Tables",
        ),
    log:
        "logs/report/collect_metrics.log",
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/report.py"


rule tables:
    input:
        metrics="results/tables/metrics.csv",
        manifests=selection_manifests(),
    output:
        md="results/tables/main.md",
        csv=report(
            "results/tables/main.csv", caption="../report/main.rst", category="Tables"
        ),
        tex="results/tables/main.tex",
    log:
        "logs/report/tables.log",
    params:
        stand_in=stand_in_judges(),
        rehearsal=rehearsal_label(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/report.py"


rule bpc_plots:
    input:
        metrics="results/tables/metrics.csv",
    output:
        png=report(
            "results/plots/bpc_vs_score.png",
            caption="../report/bpc_vs_score.rst",
            category="Plots",
        ),
        svg="results/plots/bpc_vs_score.svg",
        correlations=report(
            "results/tables/correlations.csv",
            caption="../report/correlations.rst",
            category="Tables",
        ),
    log:
        "logs/report/bpc_plots.log",
    params:
        bpc=bpc_areas(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/report.py"


rule entropy_law_plot:
    input:
        metrics="results/tables/metrics.csv",
        manifests=selection_manifests(),
    output:
        png=report(
            "results/plots/entropy_law.png",
            caption="../report/entropy_law.rst",
            category="Plots",
        ),
        svg="results/plots/entropy_law.svg",
    log:
        "logs/report/entropy_law_plot.log",
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/report.py"


rule pairwise_plot:
    input:
        metrics="results/tables/metrics.csv",
    output:
        png=report(
            "results/plots/pairwise.png",
            caption="../report/pairwise.rst",
            category="Plots",
        ),
        svg="results/plots/pairwise.svg",
    log:
        "logs/report/pairwise_plot.log",
    params:
        judge_model=PAIRWISE["judge"]["model"],
        stand_in="pairwise" in stand_in_judges(),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/report.py"
