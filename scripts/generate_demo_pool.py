"""Generate the embedded demo pool and its held-out evaluation split."""

from workflow_lib.core.jobs import run_job
from workflow_lib.core.jsonio import write_json, write_jsonl
from workflow_lib.data.demo_pool import (
    composition,
    generate_heldout,
    generate_pool,
    heldout_multiple_choice,
)


def main(smk):
    source = smk.params.source
    pool = generate_pool(n=source["n"], seed=source["seed"])
    heldout = generate_heldout(n=source["heldout_n"], seed=source["heldout_seed"])
    write_jsonl(smk.output.pool, pool)
    write_jsonl(smk.output.heldout, heldout)
    write_jsonl(smk.output.heldout_mc,
                heldout_multiple_choice(heldout, seed=source["heldout_seed"]))
    write_json(smk.output.composition, composition(pool))


run_job(snakemake, main)
