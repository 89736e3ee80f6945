"""Rule selection_table: what every selection file holds, from the manifests
(workflow_lib.report.tables)."""

from workflow_lib.core.jobs import run_job
from workflow_lib.report.tables import selection_table, write_table


def table(smk):
    selections = selection_table(smk.input.manifests)
    write_table(selections, smk.output.csv)
    write_table(selections, smk.output.md)


run_job(snakemake, table)
