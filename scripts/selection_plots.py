"""Rule selection_plots: one pool's overlap, rank-agreement and distribution plots
(workflow_lib.report.selections)."""

import logging
from pathlib import Path

from workflow_lib.core.jobs import run_job
from workflow_lib.data.records import read_pool
from workflow_lib.report.selections import (
    distribution_figure,
    distributions,
    orderings,
    overlap,
    overlap_figure,
    rank_agreement,
    rank_figure,
    read_chosen,
)
from workflow_lib.report.tables import save_figure
from workflow_lib.scoring.shards import read_scores


def plots(smk):
    pool, out = smk.wildcards.pool, smk.output
    chosen = read_chosen(smk.input.manifests)[pool]
    records = list(read_pool(smk.input.pool))
    scores = {Path(path).stem: read_scores(path, records) for path in smk.input.scores}
    logging.info("%s: %d records, %d selections, scores of %s", pool, len(records), len(chosen),
                 ", ".join(scores) or "no scorer")
    save_figure(overlap_figure(overlap(chosen), pool), out.overlap, out.overlap_svg)
    found = orderings(chosen, records, scores)
    logging.info("orderings: %s", ", ".join(f"{k} ({len(v)})" for k, v in found.items()))
    save_figure(rank_figure(rank_agreement(found), pool), out.rank_agreement,
                out.rank_agreement_svg)
    figure = distribution_figure(*distributions(chosen, records), pool)
    save_figure(figure, out.distributions, out.distributions_svg)


run_job(snakemake, plots)
