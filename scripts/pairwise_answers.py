"""Rule pairwise_answers: one run's answers to the configured pairwise questions."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.mtbench.answers import write_answers
from workflow_lib.evaluate.pairwise.answers import generate_answers
from workflow_lib.evaluate.pairwise.testsets import load_testsets


def answers(smk):
    chosen = smk.params.questions
    questions = load_testsets(Path(smk.input.sets[0]).parent, chosen["testsets"],
                              chosen["per_set"])
    records = generate_answers(smk.input.model, questions, smk.wildcards.run,
                               threads=smk.threads, **smk.params.generation)
    write_answers(smk.output.answers, smk.output.manifest, records, run=smk.wildcards.run,
                  model_dir=smk.input.model, questions=smk.input.data,
                  generation={**smk.params.questions, **smk.params.generation})


run_job(snakemake, answers)
