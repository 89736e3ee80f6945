"""Rule costs: wall and CPU seconds per stage of every selection and run (costs.md, .csv)."""

from workflow_lib.core.jobs import run_job
from workflow_lib.report.costs import benchmark_jobs, cost_table
from workflow_lib.report.tables import write_table


def costs(smk):
    table = cost_table(benchmark_jobs(smk.params.benchmarks), smk.config)
    for path in (smk.output.md, smk.output.csv):
        write_table(table, path)


run_job(snakemake, costs)
