"""Rule collect_metrics: every metrics.json of the grid as the tidy table metrics.csv."""

from workflow_lib.config.grid import runs
from workflow_lib.core.jobs import run_job
from workflow_lib.report.tables import collect_metrics, write_table


def collect(smk):
    write_table(collect_metrics(smk.input.metrics, runs(smk.config)), smk.output.metrics)


run_job(snakemake, collect)
