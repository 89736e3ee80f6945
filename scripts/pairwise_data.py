"""Rule pairwise_data: the five pairwise test sets, fetched and checked (or the project's demo
sets)."""

from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.evaluate.pairwise.demo import write_demo_data
from workflow_lib.evaluate.pairwise.testsets import fetch_testsets, load_testsets


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


run_job(snakemake, data)
