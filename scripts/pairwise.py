"""Pairwise rules: pairwise_data (fetch and check the test sets), pairwise_answers (one run's
answers), pairwise_judge (one run against one reference run, both orders), pairwise_metrics (a
run's metrics.json from its judgments)."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import read_jsonl, write_jsonl
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.evaluate.judge.runner import job_settings
from workflow_lib.evaluate.metrics import write_metrics
from workflow_lib.evaluate.mtbench.answers import write_answers
from workflow_lib.evaluate.pairwise.answers import generate_answers
from workflow_lib.evaluate.pairwise.demo import write_demo_data
from workflow_lib.evaluate.pairwise.judge import judge_pair_run, load_answers, pair_items
from workflow_lib.evaluate.pairwise.score import pairwise_run_metrics
from workflow_lib.evaluate.pairwise.testsets import fetch_testsets, load_testsets


def questions(smk):
    """The configured questions of the sets in the folder of the first set file."""
    return load_testsets(Path(smk.input.sets[0]).parent, smk.params.questions["testsets"],
                         smk.params.questions["per_set"])


def data(smk):
    out = Path(smk.output.manifest).parent
    if smk.params.questions == "demo":
        write_demo_data(out)
        source = "workflow_lib/evaluate/pairwise/demo.py"
        files = {Path(p).name: {"source": source, "sha256": file_sha256(p)}
                 for p in smk.output.sets}
    else:
        files = fetch_testsets(out, smk.params.local_data, smk.params.check_sha256)
    load_testsets(out)
    write_manifest(smk.output.manifest, files=files)


def answers(smk):
    records = generate_answers(smk.input.model, questions(smk), smk.wildcards.run,
                               threads=smk.threads, **smk.params.generation)
    write_answers(smk.output.answers, smk.output.manifest, records, run=smk.wildcards.run,
                  model_dir=smk.input.model, questions=smk.input.data,
                  generation={**smk.params.questions, **smk.params.generation})


def judge(smk):
    run, reference = smk.wildcards.run, smk.wildcards.reference
    items = pair_items(questions(smk), load_answers(smk.input.answers),
                       load_answers(smk.input.reference),
                       files=(smk.input.answers, smk.input.reference))
    settings = job_settings(smk.params.judge, smk.config["eval"]["pairwise"]["judge"])
    cache = Path(smk.output.judgments).with_name("judge_cache.jsonl")
    write_jsonl(smk.output.judgments, judge_pair_run(run, reference, items, settings, cache))


def metrics(smk):
    judged = {label: [record for _, record in read_jsonl(path)]
              for label, path in zip(smk.params.labels, smk.input.judgments, strict=True)}
    write_metrics(smk.output.metrics, pairwise_run_metrics(smk.wildcards.run, judged))


run_job(snakemake, {"pairwise_data": data, "pairwise_answers": answers, "pairwise_judge": judge,
                    "pairwise_metrics": metrics}[snakemake.rule])
