"""Report: the tidy metrics table, the paper tables and the plots (all in `snakemake --report`);
the selection table and plots: rules/selection_report.smk."""


localrules:
    collect_metrics,
    tables,
    costs,
    bpc_plots,
    entropy_law_plot,
    pairwise_plot,


rule collect_metrics:
    """Internal step of tables: every run's metrics in one CSV."""
    input:
        metrics=eval_metrics_files(config, RUNS),
    output:
        metrics=report(
            paths.METRICS_TABLE,
            caption="../report/metrics.rst",
            category="Tables",
        ),
    log:
        paths.log("report/collect_metrics"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/collect_metrics.py"


rule tables:
    """The paper-style main table and the metrics table."""
    input:
        metrics=paths.METRICS_TABLE,
        manifests=selection_manifests(config),
        trained=expand(paths.MODEL, run=[*FINETUNE_RUNS, *ITERIT_RUNS]),
    output:
        md=paths.fill(paths.MAIN_TABLE, ext="md"),
        csv=report(
            paths.fill(paths.MAIN_TABLE, ext="csv"),
            caption="../report/main.rst",
            category="Tables",
        ),
        tex=paths.fill(paths.MAIN_TABLE, ext="tex"),
    log:
        paths.log("report/tables"),
    params:
        stand_in=stand_in_judges(config),
        rehearsal=rehearsal_label(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/tables.py"


rule costs:
    """Wall and CPU seconds per stage of every selection and run, from the jobs' benchmarks."""
    input:
        metrics=paths.METRICS_TABLE,
        manifests=selection_manifests(config),
        trained=expand(paths.MODEL, run=[*FINETUNE_RUNS, *ITERIT_RUNS]),
    output:
        md=paths.fill(paths.COSTS_TABLE, ext="md"),
        csv=report(
            paths.fill(paths.COSTS_TABLE, ext="csv"),
            caption="../report/costs.rst",
            category="Tables",
        ),
    log:
        paths.log("report/costs"),
    params:
        benchmarks=paths.BENCHMARKS,
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/costs.py"


rule bpc_plots:
    """BPC against benchmark scores, per area."""
    input:
        metrics=paths.METRICS_TABLE,
    output:
        png=report(
            paths.fill(paths.PLOT, plot="bpc_vs_score", ext="png"),
            caption="../report/bpc_vs_score.rst",
            category="Plots",
        ),
        svg=paths.fill(paths.PLOT, plot="bpc_vs_score", ext="svg"),
        correlations=report(
            paths.CORRELATIONS,
            caption="../report/correlations.rst",
            category="Tables",
        ),
    log:
        paths.log("report/bpc_plots"),
    params:
        bpc=EVALUATORS["bpc"].setting(config, "areas"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/bpc_plots.py"


rule entropy_law_plot:
    """ZIP's entropy-law plot: compression ratio and first-epoch loss against the main score."""
    input:
        metrics=paths.METRICS_TABLE,
        manifests=selection_manifests(config),
        trained=expand(paths.MODEL, run=[*FINETUNE_RUNS, *ITERIT_RUNS]),
    output:
        png=report(
            paths.fill(paths.PLOT, plot="entropy_law", ext="png"),
            caption="../report/entropy_law.rst",
            category="Plots",
        ),
        svg=paths.fill(paths.PLOT, plot="entropy_law", ext="svg"),
    log:
        paths.log("report/entropy_law_plot"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/entropy_law_plot.py"


rule pairwise_plot:
    """Wins, ties and losses of the pairwise comparisons."""
    input:
        metrics=paths.METRICS_TABLE,
    output:
        png=report(
            paths.fill(paths.PLOT, plot="pairwise", ext="png"),
            caption="../report/pairwise.rst",
            category="Plots",
        ),
        svg=paths.fill(paths.PLOT, plot="pairwise", ext="svg"),
    log:
        paths.log("report/pairwise_plot"),
    params:
        judge_model=lookup(dpath="eval/pairwise/judge/model", within=config),
        stand_in="pairwise" in stand_in_judges(config),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/pairwise_plot.py"
