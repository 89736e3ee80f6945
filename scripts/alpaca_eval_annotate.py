"""Rule alpaca_eval_annotate: a run's answers annotated against the reference outputs by the
alpaca-eval package (in its own environment), and the run's metrics.json."""

import json
import os
from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import read_jsonl, write_jsonl
from workflow_lib.evaluate.alpaca_eval.annotate import (
    alpaca_eval_metrics,
    annotate,
    annotation_records,
)
from workflow_lib.evaluate.alpaca_eval.reference import model_outputs
from workflow_lib.evaluate.judge.runner import job_settings
from workflow_lib.evaluate.metrics import write_metrics


def main(smk):
    block = smk.config["eval"]["alpaca_eval"]
    python = block["python"]  # the workflow folder's when relative (scripts/..)
    if os.sep in python and not os.path.isabs(python):
        python = os.path.join(smk.scriptdir, "..", python)
    reference = json.loads(Path(smk.input.reference).read_text(encoding="utf-8"))
    answers = [record for _, record in read_jsonl(smk.input.answers)]
    outputs = model_outputs(answers, reference, smk.wildcards.run, smk.input.answers)
    annotation = smk.params.annotation
    judge = job_settings(annotation["judge"], block["judge"])
    result = annotate(outputs, reference, annotation, judge, python, offline=smk.params.offline)
    write_jsonl(smk.output.annotations, annotation_records(result))
    write_metrics(smk.output.metrics, alpaca_eval_metrics(smk.wildcards.run, result))


run_job(snakemake, main)
