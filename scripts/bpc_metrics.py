"""Rule bpc_metrics: a run's per-corpus BPC results as its metrics.json."""

import json
from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.bpc import bpc_metrics
from workflow_lib.evaluate.metrics import write_metrics


def gather(smk):
    results = [json.loads(Path(path).read_text(encoding="utf-8")) for path in smk.input]
    write_metrics(smk.output.metrics, bpc_metrics(smk.wildcards.run, results))


run_job(snakemake, gather)
