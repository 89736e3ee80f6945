"""Rule bpc: one run's model on one corpus (workflow_lib.evaluate.bpc)."""

import time

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.bpc import model_bpc, write_bpc_result


def score(smk):
    start = time.perf_counter()
    settings = smk.params.settings
    result = model_bpc(smk.input.model, smk.input.corpus, threads=smk.threads, **settings)
    write_bpc_result(smk.output.result, result, run=smk.wildcards.run,
                     corpus=smk.wildcards.corpus, model_dir=smk.input.model,
                     corpus_path=smk.input.corpus, settings=settings,
                     wall_time_s=time.perf_counter() - start)


run_job(snakemake, score)
