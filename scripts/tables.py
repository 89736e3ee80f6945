"""Rule tables: the paper table (main.md, .csv, .tex) from metrics.csv, the selections and the
training manifests."""

from workflow_lib.core.jobs import run_job
from workflow_lib.report.tables import main_table, read_metrics_table, selection_table, write_table
from workflow_lib.report.training import training_table


def tables(smk):
    table = main_table(read_metrics_table(smk.input.metrics), selection_table(smk.input.manifests),
                       stand_in=smk.params.stand_in, rehearsal=smk.params.rehearsal,
                       training=training_table(smk.input.trained))
    for path in (smk.output.md, smk.output.csv, smk.output.tex):
        write_table(table, path)


run_job(snakemake, tables)
