"""Rule alpaca_eval_data: the reference outputs the runs are judged against (a local file's, a
hub dataset file's at a revision, or the project's demo set), checked and copied, with their
manifest."""

from workflow_lib.core.jobs import run_job
from workflow_lib.core.manifest import write_manifest
from workflow_lib.evaluate.alpaca_eval.reference import load_reference, write_reference


def data(smk):
    limit = smk.params.reference["limit"]
    records, origin = load_reference(smk.params.reference["reference_outputs"], limit,
                                     smk.params.offline)
    write_reference(smk.output.reference, records)
    write_manifest(smk.output.manifest, **origin, limit=limit, n_instructions=len(records),
                   generators=sorted({r["generator"] for r in records}))


run_job(snakemake, data)
