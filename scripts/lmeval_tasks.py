"""Write the lm-eval task folder: demo held-out tasks, local benchmarks, the hub task group."""

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.lmeval.tasks import write_task_folder


def main(smk):
    lmeval = smk.params.lmeval
    heldout = {pool: (smk.input[f"heldout_{pool}"], smk.input[f"heldout_mc_{pool}"])
               for pool in smk.params.heldout_pools}
    write_task_folder(smk.output[0], heldout=heldout, **lmeval)


run_job(snakemake, main)
