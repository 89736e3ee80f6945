"""Rule bpc: one run's model on one corpus. Rule bpc_metrics: a run's corpora as metrics.json."""

import json
import time
from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.bpc import bpc_metrics, model_bpc, write_bpc_result
from workflow_lib.evaluate.metrics import write_metrics


def score(smk):
    start = time.perf_counter()
    settings = smk.params.settings
    result = model_bpc(smk.input.model, smk.input.corpus, threads=smk.threads, **settings)
    write_bpc_result(smk.output.result, result, run=smk.wildcards.run,
                     corpus=smk.wildcards.corpus, model_dir=smk.input.model,
                     corpus_path=smk.input.corpus, settings=settings,
                     wall_time_s=time.perf_counter() - start)


def gather(smk):
    results = [json.loads(Path(path).read_text(encoding="utf-8")) for path in smk.input]
    write_metrics(smk.output.metrics, bpc_metrics(smk.wildcards.run, results))


run_job(snakemake, {"bpc": score, "bpc_metrics": gather}[snakemake.rule])
