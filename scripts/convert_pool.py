"""Convert a raw pool (any supported format) into canonical JSONL records."""

import time

from workflow_lib.formats import convert_file
from workflow_lib.jobs import run_job
from workflow_lib.manifest import write_manifest


def main(smk):
    start = time.perf_counter()
    pool = smk.wildcards.pool
    counts = convert_file(smk.input[0], smk.output.pool, smk.params.format, id_prefix=pool,
                          default_source=smk.params.source_name, limit=smk.params.limit,
                          skip_incomplete=smk.params.skip_incomplete)
    write_manifest(smk.output.manifest, inputs={"raw": smk.input[0]}, pool=pool, **counts,
                   wall_time_s=round(time.perf_counter() - start, 3))


run_job(snakemake, main)
