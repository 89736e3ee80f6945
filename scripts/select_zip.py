"""ZIP (Entropy Law) selection of one pool at one budget (workflow_lib.zip_select)."""

import time

from workflow_lib.config import parse_budget
from workflow_lib.jobs import run_job
from workflow_lib.jsonio import read_jsonl, write_jsonl
from workflow_lib.manifest import selection_stats, write_manifest
from workflow_lib.zip_select import select_zip


def main(smk):
    start = time.perf_counter()
    records = [record for _, record in read_jsonl(smk.input.pool)]
    method = dict(smk.params.method)
    budget = parse_budget(smk.wildcards.budget)
    workers = min(method.get("workers", 2), smk.threads)
    indices, info = select_zip(records, budget, {**method, "workers": workers})
    selected = [records[i] for i in indices]
    write_jsonl(smk.output.data, selected)
    write_manifest(
        smk.output.manifest,
        inputs={"pool": smk.input.pool},
        method=smk.wildcards.method,
        params=method,
        pool=smk.wildcards.pool,
        budget=budget,
        n_pool=len(records),
        selected_ids=[r["id"] for r in selected],
        stats=selection_stats(selected),
        zip=info,
        wall_time_s=round(time.perf_counter() - start, 3),
    )


run_job(snakemake, main)
