"""Rule pairwise_metrics: a run's metrics.json from its judgments against each reference."""

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.evaluate.metrics import write_metrics
from workflow_lib.evaluate.pairwise.score import pairwise_run_metrics


def metrics(smk):
    judged = {label: [record for _, record in read_jsonl(path)]
              for label, path in zip(smk.params.labels, smk.input.judgments, strict=True)}
    write_metrics(smk.output.metrics, pairwise_run_metrics(smk.wildcards.run, judged))


run_job(snakemake, metrics)
