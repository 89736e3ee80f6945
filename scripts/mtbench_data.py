"""Rule mtbench_data: MT-bench's questions, references and judge prompts, fetched and checked
(or the project's demo set)."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.evaluate.mtbench.demo import write_demo_data
from workflow_lib.evaluate.mtbench.questions import (
    DATA_FILES,
    fetch_data,
    load_answers,
    load_judge_prompts,
    load_questions,
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


run_job(snakemake, data)
