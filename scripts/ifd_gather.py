"""Rule ifd_gather: a scorer's shards as one parquet keyed by record id, with its manifest
(workflow_lib.scoring.shards, .ifd)."""

from workflow_lib.core.jobs import run_job
from workflow_lib.data.records import read_pool
from workflow_lib.scoring.ifd import write_scores_manifest
from workflow_lib.scoring.shards import gather_scores


def gather(smk):
    ids = [record["id"] for record in read_pool(smk.input.pool)]
    gather_scores(list(smk.input.shards), ids, smk.output.scores)
    write_scores_manifest(smk.output.manifest, scores_path=smk.output.scores,
                          pool_path=smk.input.pool, model_dir=smk.input.model,
                          scorer=dict(smk.params.scorer))


run_job(snakemake, gather)
