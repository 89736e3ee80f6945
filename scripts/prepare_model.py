"""Prepare a base model folder under resources/models/{model}/."""

from workflow_lib.core.jobs import run_job
from workflow_lib.models.prepare import prepare_model


def main(smk):
    pool = smk.input.get("pool")
    prepare_model(dict(smk.params.model), smk.output[0], smk.params.offline, pool_path=pool)


run_job(snakemake, main)
