"""An IterIT run: fine-tune a base model with Axolotl, selecting each epoch's records while
training (results/models/{run}/, with iterit/epoch*.json)."""

from workflow_lib.config.grid import selection_context
from workflow_lib.core.jobs import run_job
from workflow_lib.select.budget import Budget
from workflow_lib.train.axolotl_run import job_arguments
from workflow_lib.train.iterit import train_iterit


def main(smk):
    train_iterit(pool=smk.input.pool, budget=Budget.parse(smk.params.budget),
                 method=dict(smk.params.method), initial_scores=smk.input.initial_scores,
                 **job_arguments(smk))


run_job(snakemake, main, context=selection_context(snakemake))
