"""Evaluate one run's model with lm-eval on the task folder; write raw and tidy results."""

import sys

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.lmeval.run import run_lmeval


def main(smk):
    run_lmeval(
        smk.input.model,
        smk.input.tasks,
        run=smk.wildcards.run,
        results=smk.output.results,
        metrics=smk.output.metrics,
        manifest=smk.output.manifest,
        log=sys.stderr,  # run_job's handle on the rule's log
        python=smk.config["tools_python"],
        **smk.params.inference,
        batch_size=smk.params.batch_size,
        limit=smk.params.limit,
        apply_chat_template=smk.params.apply_chat_template,
        confirm_run_unsafe_code=smk.params.confirm_run_unsafe_code,
        offline=smk.params.offline,
        threads=smk.threads,
    )


run_job(snakemake, main)
