"""An IterIT run: fine-tune a base model with Axolotl, selecting each epoch's records while
training (results/models/{run}/, with iterit/epoch*.json)."""

from workflow_lib.config import parse_budget
from workflow_lib.iterit_train import train_iterit
from workflow_lib.jobs import run_job, selection_context
from workflow_lib.training import job_arguments


def main(smk):
    train_iterit(pool=smk.input.pool, budget=parse_budget(smk.params.budget),
                 method=dict(smk.params.method), initial_scores=smk.input.initial_scores,
                 **job_arguments(smk))


run_job(snakemake, main, context=selection_context(snakemake))
