"""Convert a raw pool (any supported format) into canonical JSONL records; the manifest has
the counts, the pool's health included (workflow_lib/data/health.py)."""

import time

from workflow_lib.core.jobs import run_job
from workflow_lib.core.manifest import write_manifest
from workflow_lib.data.formats import convert_file


def main(smk):
    start = time.perf_counter()
    pool = smk.wildcards.pool
    counts = convert_file(smk.input[0], smk.output.pool, smk.params.format, id_prefix=pool,
                          default_source=smk.params.source_name, limit=smk.params.limit,
                          skip_incomplete=smk.params.skip_incomplete, drop=smk.params.drop)
    write_manifest(smk.output.manifest, inputs={"raw": smk.input[0]}, pool=pool, **counts,
                   wall_time_s=round(time.perf_counter() - start, 3))


run_job(snakemake, main)
