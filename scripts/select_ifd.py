"""IFD selection (superfiltering, cherry, superfiltering_d) of one pool at one budget from the
pool's gathered scores (workflow_lib.select.ifd)."""

import time
from functools import partial

from workflow_lib.config.grid import parse_budget, selection_context
from workflow_lib.core.jobs import run_job
from workflow_lib.core.manifest import file_sha256
from workflow_lib.core.threads import set_threads
from workflow_lib.data.records import read_pool
from workflow_lib.models.embeddings import embed_texts
from workflow_lib.scoring.presets import preset
from workflow_lib.scoring.shards import read_scores
from workflow_lib.select.ifd import select_ifd, select_superfiltering_d
from workflow_lib.select.output import write_selection


def main(smk):
    start = time.perf_counter()
    set_threads(smk.threads)
    records = list(read_pool(smk.input.pool))
    rows = read_scores(smk.input.scores, records)
    method, scorer = dict(smk.params.method), dict(smk.params.scorer)
    budget = parse_budget(smk.wildcards.budget)
    if method["kind"] == "superfiltering_d":
        embed = partial(embed_texts, batch_size=method["embedding_batch_size"],
                        device=smk.params.device, progress=True)
        indices, info = select_superfiltering_d(records, rows, budget, method["ifd_num"],
                                                embed, method["threshold"], progress=True)
    else:
        p = preset(scorer["preset"], scorer["max_length"])
        indices, info = select_ifd(rows, p, budget, method["threshold"])
    write_selection(smk.output.data, smk.output.manifest, pool_path=smk.input.pool,
                    records=records, indices=indices, method=smk.wildcards.method,
                    params=method, pool=smk.wildcards.pool, budget=budget, started=start,
                    scorer=scorer, scores_sha256=file_sha256(smk.input.scores), ifd=info)


run_job(snakemake, main, context=selection_context(snakemake))
