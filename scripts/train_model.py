"""Fine-tune one run's base model on its selection with Axolotl (results/models/{run}/)."""

from workflow_lib.core.jobs import run_job
from workflow_lib.train.axolotl_run import job_arguments, train_run


def main(smk):
    train_run(selection=smk.input.data, **job_arguments(smk))


run_job(snakemake, main)
