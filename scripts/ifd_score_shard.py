"""Rule ifd_score_shard: IFD rows of one pool shard, resumable (workflow_lib.scoring.ifd)."""

from workflow_lib.core.jobs import run_job
from workflow_lib.scoring.ifd import score_pool_shard


def score(smk):
    score_pool_shard(smk.input.pool, smk.output.shard, smk.wildcards.scatteritem,
                     smk.input.model, dict(smk.params.scorer), device=smk.params.device,
                     threads=smk.threads)


run_job(snakemake, score)
