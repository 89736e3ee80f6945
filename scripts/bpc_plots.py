"""Rule bpc_plots: BPC against benchmark score per area, and the fits as correlations.csv."""

from workflow_lib.core.jobs import run_job
from workflow_lib.report.bpc_areas import area_figure, area_panels, areas_from_config, correlations
from workflow_lib.report.tables import read_metrics_table, save_figure, write_table


def bpc_plots(smk):
    metrics = read_metrics_table(smk.input.metrics)
    panels = area_panels(metrics, areas_from_config(smk.params.bpc))
    write_table(correlations(panels), smk.output.correlations)
    save_figure(area_figure(metrics, panels), smk.output.png, smk.output.svg)


run_job(snakemake, bpc_plots)
