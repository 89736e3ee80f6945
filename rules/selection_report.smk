"""The selection report: what the selections hold and how the methods differ on one
pool, from manifests, pools and IFD scores alone (part of select_all; no training)."""


localrules:
    selection_table,
    selection_plots,
    selection_report,


rule selection_table:
    """Internal step of selection_report: the selections table."""
    input:
        manifests=selection_manifests(config),
    output:
        csv=report(
            paths.fill(paths.SELECTIONS_TABLE, ext="csv"),
            caption="../report/selections.rst",
            category="Tables",
        ),
        md=paths.fill(paths.SELECTIONS_TABLE, ext="md"),
    log:
        paths.log("selection_table/selection_table"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/selection_table.py"


rule selection_plots:
    input:
        pool=paths.POOL,
        manifests=pool_selection_manifests,
        scores=pool_score_files,
    output:
        overlap=report(
            paths.fill(paths.SELECTION_PLOT, plot="overlap", ext="png"),
            caption="../report/selection_overlap.rst",
            category="Selections",
            subcategory="{pool}",
            labels={"pool": "{pool}", "figure": "overlap (Jaccard)"},
        ),
        overlap_svg=paths.fill(paths.SELECTION_PLOT, plot="overlap", ext="svg"),
        rank_agreement=report(
            paths.fill(paths.SELECTION_PLOT, plot="rank_agreement", ext="png"),
            caption="../report/selection_rank_agreement.rst",
            category="Selections",
            subcategory="{pool}",
            labels={"pool": "{pool}", "figure": "rank agreement (Spearman)"},
        ),
        rank_agreement_svg=paths.fill(
            paths.SELECTION_PLOT, plot="rank_agreement", ext="svg"
        ),
        distributions=report(
            paths.fill(paths.SELECTION_PLOT, plot="distributions", ext="png"),
            caption="../report/selection_distributions.rst",
            category="Selections",
            subcategory="{pool}",
            labels={"pool": "{pool}", "figure": "length and source mix"},
        ),
        distributions_svg=paths.fill(
            paths.SELECTION_PLOT, plot="distributions", ext="svg"
        ),
    log:
        paths.log("selection_plots/{pool}"),
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/selection_plots.py"


rule selection_report:
    """Selection table and plots (overlap, rank agreement, distributions) per pool."""
    input:
        selection_report_files(config),
