"""Rule mtbench_judge: the judgments of one run's MT-bench answers, and its metrics.json."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.evaluate.judge.runner import job_settings
from workflow_lib.evaluate.metrics import write_metrics
from workflow_lib.evaluate.mtbench.judge import judge_run
from workflow_lib.evaluate.mtbench.questions import (
    judge_items,
    load_answers,
    load_judge_prompts,
    load_questions,
    mtbench_metrics,
    subset_questions,
)


def judge(smk):
    questions = subset_questions(load_questions(smk.input.questions), smk.params.per_category)
    items = judge_items(questions, load_answers(smk.input.answers),
                        load_answers(smk.input.references), load_judge_prompts(smk.input.prompts),
                        answer_file=smk.input.answers)
    settings = job_settings(smk.params.judge, smk.config["eval"]["mtbench"]["judge"])
    cache = Path(smk.output.judgments).with_name("judge_cache.jsonl")
    judgments = judge_run(smk.wildcards.run, items, settings, cache)
    write_jsonl(smk.output.judgments, judgments)
    write_metrics(smk.output.metrics, mtbench_metrics(smk.wildcards.run, judgments, settings["n"]))


run_job(snakemake, judge)
