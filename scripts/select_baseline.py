"""Baseline selection (full, random, longest) of one pool at one budget."""

import time

from workflow_lib.config.grid import parse_budget, selection_context
from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.select.baselines import select_baseline
from workflow_lib.select.output import write_selection


def main(smk):
    start = time.perf_counter()
    records = [record for _, record in read_jsonl(smk.input.pool)]
    method = dict(smk.params.method)
    budget = parse_budget(smk.wildcards.budget)
    indices = select_baseline(method["kind"], records, budget, method)
    write_selection(smk.output.data, smk.output.manifest, pool_path=smk.input.pool,
                    records=records, indices=indices, method=smk.wildcards.method,
                    params=method, pool=smk.wildcards.pool, budget=budget, started=start)


run_job(snakemake, main, context=selection_context(snakemake))
