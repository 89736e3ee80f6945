"""Rule ifd_score_shard: IFD rows of one pool shard (resumable). Rule ifd_gather: shards to one
parquet keyed by record id, with its manifest (workflow_lib.scoring.ifd, .shards)."""

from workflow_lib.core.jobs import run_job
from workflow_lib.data.records import read_pool
from workflow_lib.scoring.ifd import score_pool_shard, write_scores_manifest
from workflow_lib.scoring.shards import gather_scores


def score(smk):
    score_pool_shard(smk.input.pool, smk.output.shard, smk.wildcards.scatteritem,
                     smk.input.model, dict(smk.params.scorer), device=smk.params.device,
                     threads=smk.threads)


def gather(smk):
    ids = [record["id"] for record in read_pool(smk.input.pool)]
    gather_scores(list(smk.input.shards), ids, smk.output.scores)
    write_scores_manifest(smk.output.manifest, scores_path=smk.output.scores,
                          pool_path=smk.input.pool, model_dir=smk.input.model,
                          scorer=dict(smk.params.scorer))


run_job(snakemake, {"ifd_score_shard": score, "ifd_gather": gather}[snakemake.rule])
