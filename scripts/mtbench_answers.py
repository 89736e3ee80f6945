"""Rule mtbench_answers: one run's answers to the MT-bench questions."""

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.mtbench.answers import generate_answers, write_answers
from workflow_lib.evaluate.mtbench.questions import load_questions, subset_questions


def answers(smk):
    settings = dict(smk.params.generation)
    questions = subset_questions(load_questions(smk.input.questions),
                                 settings.pop("per_category"))
    records = generate_answers(smk.input.model, questions, smk.wildcards.run,
                               threads=smk.threads, **settings)
    write_answers(smk.output.answers, smk.output.manifest, records, run=smk.wildcards.run,
                  model_dir=smk.input.model, questions=smk.input.questions,
                  generation=dict(smk.params.generation))


run_job(snakemake, answers)
