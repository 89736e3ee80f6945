"""Rule alpaca_eval_data: the reference outputs the runs are judged against (a local file's, or
the project's demo set), checked and copied, with their manifest."""

from workflow_lib.core.jobs import run_job
from workflow_lib.core.manifest import write_manifest
from workflow_lib.evaluate.alpaca_eval.reference import (
    demo_reference,
    read_reference,
    write_reference,
)


def data(smk):
    source, limit = smk.params.reference["reference_outputs"], smk.params.reference["limit"]
    if source == "demo":
        records = demo_reference()[:limit]
        inputs = {}
    else:
        records = read_reference(source, limit)
        inputs = {"source": source}
    write_reference(smk.output.reference, records)
    write_manifest(smk.output.manifest, inputs=inputs, reference_outputs=source, limit=limit,
                   n_instructions=len(records),
                   generators=sorted({r["generator"] for r in records}))


run_job(snakemake, data)
