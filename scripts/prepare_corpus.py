"""Prepare a BPC corpus (local file or hub dataset) as resources/corpora/{corpus}.jsonl."""

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import read_jsonl, write_jsonl
from workflow_lib.core.manifest import file_sha256, write_manifest
from workflow_lib.data.corpora import corpus_records, heldout_documents, stdlib_documents
from workflow_lib.data.hub import dataset_rows, require_online


def main(smk):
    corpus = smk.params.corpus
    source = corpus["source"]
    provenance = dict(source)
    if source["kind"] == "local":
        rows, origin = read_jsonl(smk.input.raw), smk.input.raw
        provenance["sha256"] = file_sha256(origin)
    elif source["kind"] == "python_stdlib":
        rows, origin = stdlib_documents(source["modules"]), "python stdlib"
    elif source["kind"] == "demo_heldout":
        rows, origin = heldout_documents(smk.input.raw), smk.input.raw
    else:
        require_online(smk.params.offline, f"corpus {source['repo']}")
        hub_rows, sha = dataset_rows(source["repo"], source["revision"], source.get("config"),
                                     source["split"], source["retries"])
        rows, origin = enumerate(hub_rows, 1), f"{source['repo']}@{sha}"
        provenance["resolved_revision"] = sha
    records = corpus_records(rows, origin, corpus["subset"], corpus["limit"])
    write_jsonl(smk.output.corpus, records)
    write_manifest(smk.output.manifest, **provenance, subset=corpus["subset"],
                   limit=corpus["limit"], n_documents=len(records),
                   n_chars=sum(len(r["content"]) for r in records))


run_job(snakemake, main)
