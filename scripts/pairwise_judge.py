"""Rule pairwise_judge: one run against one reference run, every question in both orders."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.evaluate.judge.runner import job_settings
from workflow_lib.evaluate.pairwise.judge import judge_pair_run, load_answers, pair_items
from workflow_lib.evaluate.pairwise.testsets import load_testsets


def judge(smk):
    run, reference = smk.wildcards.run, smk.wildcards.reference
    chosen = smk.params.questions
    questions = load_testsets(Path(smk.input.sets[0]).parent, chosen["testsets"],
                              chosen["per_set"])
    items = pair_items(questions, load_answers(smk.input.answers),
                       load_answers(smk.input.reference),
                       files=(smk.input.answers, smk.input.reference))
    settings = job_settings(smk.params.judge, smk.config["eval"]["pairwise"]["judge"])
    cache = Path(smk.output.judgments).with_name("judge_cache.jsonl")
    write_jsonl(smk.output.judgments, judge_pair_run(run, reference, items, settings, cache))


run_job(snakemake, judge)
