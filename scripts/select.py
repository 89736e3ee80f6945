"""A selection of one pool at one budget by any method that selects from a file: its kind's
function from the registry (workflow_lib/select/registry.py) through `select.run`."""

from workflow_lib.config.grid import selection_context
from workflow_lib.core.jobs import run_job
from workflow_lib.select.budget import Budget
from workflow_lib.select.run import run_selection


def main(smk):
    run_selection(pool_path=smk.input.pool, scores_path=smk.input.get("scores"),
                  pool=smk.wildcards.pool, method_name=smk.wildcards.method,
                  method=dict(smk.params.method), budget=Budget.parse(smk.wildcards.budget),
                  scorer=smk.params.scorer and dict(smk.params.scorer),
                  device=smk.params.device, threads=smk.threads,
                  data_path=smk.output.data, manifest_path=smk.output.manifest)


run_job(snakemake, main, context=selection_context(snakemake))
