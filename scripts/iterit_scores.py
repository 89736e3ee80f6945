"""Epoch-0 IterIT scores of a pool with a base model (shared by its iterative and baseline runs)."""

import logging

from workflow_lib.core.jobs import run_job
from workflow_lib.select.iterit.scoring import score_pool


def main(smk):
    counts = score_pool(smk.input.pool, smk.input.model, smk.output.scores, smk.output.manifest,
                        max_length=smk.params.max_length, batch_size=smk.params.batch_size,
                        device=smk.params.device, threads=smk.threads)
    logging.info("scored %(n_records)d records: %(n_candidates)d with IFD < 1, "
                 "%(n_unscorable)d unscorable", counts)


run_job(snakemake, main)
