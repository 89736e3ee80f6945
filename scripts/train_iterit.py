"""An IterIT run: fine-tune a base model with Axolotl, selecting each epoch's records while
training (results/models/{run}/, with iterit/epoch*.json)."""

from workflow_lib.config import parse_budget
from workflow_lib.iterit_train import train_iterit
from workflow_lib.jobs import run_job


def main(smk):
    train_iterit(
        run=smk.wildcards.run,
        pool=smk.input.pool,
        budget=parse_budget(smk.params.budget),
        method=dict(smk.params.method),
        base_model=smk.input.base_model,
        train=dict(smk.params.train),
        out_dir=smk.output[0],
        work_dir=smk.params.work_dir,
        tools_python=smk.config["tools_python"],
        offline=smk.params.offline,
        threads=smk.threads,
        log_path=smk.log[0],
        initial_scores=smk.input.initial_scores,
    )


run_job(snakemake, main)
