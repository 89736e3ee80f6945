"""Fine-tune one run's base model on its selection with Axolotl (results/models/{run}/)."""

from workflow_lib.jobs import run_job
from workflow_lib.training import train_run


def main(smk):
    train_run(
        run=smk.wildcards.run,
        selection=smk.input.data,
        base_model=smk.input.base_model,
        train=dict(smk.params.train),
        out_dir=smk.output[0],
        work_dir=smk.params.work_dir,
        tools_python=smk.config["tools_python"],
        offline=smk.params.offline,
        threads=smk.threads,
        log_path=smk.log[0],
    )


run_job(snakemake, main)
