"""Rule entropy_law_plot: ZIP's compression ratio of the selected data and the first-epoch
training loss against score."""

from workflow_lib.core.jobs import run_job
from workflow_lib.report.tables import (
    entropy_law_figure,
    read_metrics_table,
    save_figure,
    selection_table,
)
from workflow_lib.report.training import training_table


def entropy_law_plot(smk):
    figure = entropy_law_figure(read_metrics_table(smk.input.metrics),
                                selection_table(smk.input.manifests),
                                training_table(smk.input.trained))
    save_figure(figure, smk.output.png, smk.output.svg)


run_job(snakemake, entropy_law_plot)
