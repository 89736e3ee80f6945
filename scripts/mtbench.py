"""MT-bench rules: mtbench_data (fetch and check the files), mtbench_answers (one run's answers),
mtbench_judge (their judgments and metrics.json)."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.evaluate.judge.runner import job_settings
from workflow_lib.evaluate.metrics import write_metrics
from workflow_lib.evaluate.mtbench.answers import generate_answers, write_answers
from workflow_lib.evaluate.mtbench.demo import write_demo_data
from workflow_lib.evaluate.mtbench.judge import judge_run
from workflow_lib.evaluate.mtbench.questions import (
    DATA_FILES,
    fetch_data,
    judge_items,
    load_answers,
    load_judge_prompts,
    load_questions,
    mtbench_metrics,
    subset_questions,
)


def data(smk):
    out = Path(smk.output.questions).parent
    if smk.params.questions == "demo":
        write_demo_data(out)
        source = "workflow_lib/evaluate/mtbench/demo.py"
        files = {name: {"source": source, "sha256": file_sha256(out / name)}
                 for name in DATA_FILES}
    else:
        files = fetch_data(out, smk.params.local_data, smk.params.check_sha256)
    load_questions(smk.output.questions)
    load_answers(smk.output.references)
    load_judge_prompts(smk.output.prompts)
    write_manifest(smk.output.manifest, files=files)


def answers(smk):
    settings = dict(smk.params.generation)
    questions = subset_questions(load_questions(smk.input.questions),
                                 settings.pop("per_category"))
    records = generate_answers(smk.input.model, questions, smk.wildcards.run,
                               threads=smk.threads, **settings)
    write_answers(smk.output.answers, smk.output.manifest, records, run=smk.wildcards.run,
                  model_dir=smk.input.model, questions=smk.input.questions,
                  generation=dict(smk.params.generation))


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


run_job(snakemake, {"mtbench_data": data, "mtbench_answers": answers,
                    "mtbench_judge": judge}[snakemake.rule])
