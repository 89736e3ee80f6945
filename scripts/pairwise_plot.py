"""Rule pairwise_plot: win / tie / lose of the judged runs against their references."""

from workflow_lib.core.jobs import run_job
from workflow_lib.report.pairwise import pairwise_figure
from workflow_lib.report.tables import read_metrics_table, save_figure


def pairwise_plot(smk):
    figure = pairwise_figure(read_metrics_table(smk.input.metrics), smk.params.judge_model,
                             smk.params.stand_in)
    save_figure(figure, smk.output.png, smk.output.svg)


run_job(snakemake, pairwise_plot)
