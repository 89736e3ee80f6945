"""Report rules: the tidy metrics table, the paper tables, the BPC plot with its correlations
table, and the Entropy-Law and pairwise plots."""

from workflow_lib.config.grid import runs
from workflow_lib.core.jobs import run_job
from workflow_lib.report.bpc_areas import area_figure, area_panels, areas_from_config, correlations
from workflow_lib.report.pairwise import pairwise_figure
from workflow_lib.report.tables import (
    collect_metrics,
    entropy_law_figure,
    main_table,
    read_metrics_table,
    save_figure,
    selection_table,
    write_table,
)


def collect(smk):
    write_table(collect_metrics(smk.input.metrics, runs(smk.config)), smk.output.metrics)


def tables(smk):
    table = main_table(read_metrics_table(smk.input.metrics), selection_table(smk.input.manifests),
                       stand_in=smk.params.stand_in, rehearsal=smk.params.rehearsal)
    for path in (smk.output.md, smk.output.csv, smk.output.tex):
        write_table(table, path)


def bpc_plots(smk):
    metrics = read_metrics_table(smk.input.metrics)
    panels = area_panels(metrics, areas_from_config(smk.params.bpc))
    write_table(correlations(panels), smk.output.correlations)
    save_figure(area_figure(metrics, panels), smk.output.png, smk.output.svg)


def entropy_law_plot(smk):
    figure = entropy_law_figure(read_metrics_table(smk.input.metrics),
                                selection_table(smk.input.manifests))
    save_figure(figure, smk.output.png, smk.output.svg)


def pairwise_plot(smk):
    figure = pairwise_figure(read_metrics_table(smk.input.metrics), smk.params.judge_model,
                             smk.params.stand_in)
    save_figure(figure, smk.output.png, smk.output.svg)


MAIN = {"collect_metrics": collect, "tables": tables, "bpc_plots": bpc_plots,
        "entropy_law_plot": entropy_law_plot, "pairwise_plot": pairwise_plot}
run_job(snakemake, MAIN[snakemake.rule])
