"""Rule alpaca_eval_answers: one run's answers to the AlpacaEval instructions (generated like
the pairwise answers)."""

import json
from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.evaluate.alpaca_eval.reference import questions
from workflow_lib.evaluate.mtbench.answers import write_answers
from workflow_lib.evaluate.pairwise.answers import generate_answers


def answers(smk):
    asked = questions(json.loads(Path(smk.input.reference).read_text(encoding="utf-8")))
    records = generate_answers(smk.input.model, asked, smk.wildcards.run, threads=smk.threads,
                               **smk.params.generation)
    records = [{**r, "instruction": q.instruction} for r, q in zip(records, asked, strict=True)]
    write_answers(smk.output.answers, smk.output.manifest, records, run=smk.wildcards.run,
                  model_dir=smk.input.model, questions=smk.input.reference,
                  generation=dict(smk.params.generation))


run_job(snakemake, answers)
