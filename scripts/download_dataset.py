"""Download a Hugging Face dataset split at a pinned revision into raw JSONL."""

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.core.manifest import write_manifest
from workflow_lib.data.hub import dataset_rows, require_online


def main(smk):
    source = smk.params.source
    require_online(smk.params.offline, f"dataset {source['repo']}")
    rows, sha = dataset_rows(source["repo"], source["revision"], source.get("config"),
                             source["split"], source["retries"])
    count = write_jsonl(smk.output.pool, rows)
    write_manifest(smk.output.manifest, **source, resolved_revision=sha, n_rows=count)


run_job(snakemake, main)
