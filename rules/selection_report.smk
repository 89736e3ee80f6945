"""The selection report: what the selections hold and how the methods differ on one
pool, from manifests, pools and IFD scores alone (part of select_all; no training)."""


localrules:
    selection_table,
    selection_plots,
    selection_report,


rule selection_table:
    input:
        manifests=selection_manifests(),
    output:
        csv=report(
            "results/tables/selections.csv",
            caption="../report/selections.rst",
            category="Tables",
        ),
        md="results/tables/selections.md",
    log:
        "logs/selection_table/selection_table.log",
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/selection_report.py"


rule selection_plots:
    input:
        pool="results/pools/{pool}.jsonl",
        manifests=pool_selection_manifests,
        scores=pool_score_files,
    output:
        overlap=report(
            "results/plots/selections/{pool}/overlap.png",
            caption="../report/selection_overlap.rst",
            category="Selections",
            subcategory="{pool}",
            labels={"pool": "{pool}", "figure": "overlap (Jaccard)"},
        ),
        overlap_svg="results/plots/selections/{pool}/overlap.svg",
        rank_agreement=report(
            "results/plots/selections/{pool}/rank_agreement.png",
            caption="../report/selection_rank_agreement.rst",
            category="Selections",
            subcategory="{pool}",
            labels={"pool": "{pool}", "figure": "rank agreement (Spearman)"},
        ),
        rank_agreement_svg="results/plots/selections/{pool}/rank_agreement.svg",
        distributions=report(
            "results/plots/selections/{pool}/distributions.png",
            caption="../report/selection_distributions.rst",
            category="Selections",
            subcategory="{pool}",
            labels={"pool": "{pool}", "figure": "length and source mix"},
        ),
        distributions_svg="results/plots/selections/{pool}/distributions.svg",
    log:
        "logs/selection_plots/{pool}.log",
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/selection_report.py"


rule selection_report:
    input:
        selection_report_files(),
