"""ZIP (Entropy Law) selection of one pool at one budget (workflow_lib.select.zip)."""

import time

from workflow_lib.config.grid import parse_budget, selection_context
from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.select.output import write_selection
from workflow_lib.select.zip import select_zip


def main(smk):
    start = time.perf_counter()
    records = [record for _, record in read_jsonl(smk.input.pool)]
    method = dict(smk.params.method)
    budget = parse_budget(smk.wildcards.budget)
    workers = min(method.get("workers", 2), smk.threads)
    indices, info = select_zip(records, budget, {**method, "workers": workers})
    write_selection(smk.output.data, smk.output.manifest, pool_path=smk.input.pool,
                    records=records, indices=indices, method=smk.wildcards.method,
                    params=method, pool=smk.wildcards.pool, budget=budget, started=start,
                    zip=info)


run_job(snakemake, main, context=selection_context(snakemake))
