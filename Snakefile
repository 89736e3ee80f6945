"""Sieve: instruction-tuning data selection, from raw pool to paper table.

Named targets: pools, corpora, models, select_all (with selection_report), train_all, eval_all,
mtbench_all, pairwise_all, tables, costs, bpc_plots, entropy_law_plot, pairwise_plot (and `all`, the
default). See README.md.
"""

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

from workflow_lib.core.errors import ConfigError
from workflow_lib.config.columns import header_problems
from workflow_lib.config.grid import pairwise_pairs, runs
from workflow_lib.config.scorers import all_scorers
from workflow_lib.config.targets import finetune_runs, iterit_runs
from workflow_lib.config.validate import (
    local_source_problems,
    validate_config,
    yaml_syntax_problem,
)
from workflow_lib.config.rehearsal import announce_rehearsal, rehearsal_label
from workflow_lib.core.jobs import print_job_errors, print_job_warnings
from workflow_lib.evaluate.registry import EVALUATORS

# A recipe given with --configfile stands alone: the demo's config.yaml is not merged under it
# (Snakemake would otherwise deep-merge the two, leaking demo pools and models into the recipe).
# (Snakemake parses a --configfile before this file runs; its error names no line for that one.)
if not workflow.overwrite_configfiles:
    if problem := yaml_syntax_problem("config.yaml"):
        sys.exit(f"ERROR: {problem}")

    configfile: "config.yaml"


# A configuration error is shown as its message alone, without Snakemake's traceback lines.
try:
    validate_config(config)
    RUNS = {run.name: run for run in runs(config)}
    PAIRS = pairwise_pairs(config)  # (run, reference run) of pairwise judging
except ConfigError as err:
    sys.exit(f"ERROR: {err}")
# A recipe's header maps the paper's columns to evaluators (workflow_lib/config/columns.py).
header = [
    p
    for f in workflow.overwrite_configfiles or ["config.yaml"]
    for p in header_problems(f, config)
]
for problem in local_source_problems(config) + header:
    sys.exit(f"ERROR: {problem}")
FINETUNE_RUNS = finetune_runs(RUNS)  # rule train: fine-tunes on a selection file
ITERIT_RUNS = iterit_runs(RUNS)  # rule train_iterit: runs that select while training
SCORERS = all_scorers(config)  # the configured scorers and IterIT's implicit ones
# A relative interpreter path is the workflow's own (.venv-tools next to the Snakefile); a bare
# command such as `python` is looked up on PATH (conda environments). Scripts read it from the
# config, not from params: where the interpreter lives must not make jobs rerun.
if os.sep in config["tools_python"]:
    config["tools_python"] = os.path.join(workflow.basedir, config["tools_python"])
# A rehearsal (configs/rehearsal.yaml) says so, and every manifest of its jobs records it.
announce_rehearsal(config, os.environ)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/select.smk"
include: "rules/ifd.smk"
include: "rules/train.smk"
include: "rules/train_iterit.smk"


# Each evaluator's rules (evaluate.registry); the report gathers their metrics.
for evaluator in EVALUATORS.values():
    if evaluator.rules is not None:

        include: evaluator.rules


include: "rules/report.smk"
include: "rules/selection_report.smk"


# A grid without base models only selects: nothing is trained or evaluated, so no metrics.
rule all:
    """Everything the config asks for: pools, selections, fine-tunes, evaluations, tables, plots (default)."""
    default_target: True
    input:
        rules.pools.input,
        rules.corpora.input,
        rules.models.input,
        rules.select_all.input,
        rules.train_all.input,
        rules.tables.output if RUNS else [],
        rules.costs.output if RUNS else [],
        rules.entropy_law_plot.output if FINETUNE_RUNS or ITERIT_RUNS else [],
        rules.bpc_plots.output if RUNS and EVALUATORS["bpc"].enabled(config) else [],
        rules.pairwise_plot.output if PAIRS else [],


# Warnings of the jobs that ran (also in their logs), shown at the end of the run; after a
# failure, the failed jobs' one-line errors last.
onsuccess:
    print_job_warnings()


onerror:
    print_job_warnings()
    print_job_errors()
