"""The cost table from fixture Snakemake benchmark files with known seconds."""

import re

import pandas as pd
import pytest

from tests.support import ROOT
from workflow_lib.report.costs import (
    COST_COLUMNS,
    NOT_A_STAGE,
    STAGES,
    benchmark_jobs,
    cost_table,
    read_benchmark,
)
from workflow_lib.report.tables import to_markdown

CONFIG = {
    "methods": {"random": {"kind": "random"}, "ifd": {"kind": "superfiltering", "scorer": "small"},
                "iterit": {"kind": "iterit"}},
    "experiments": [{"pools": ["demo"], "methods": ["random", "ifd", "iterit"], "budgets": [10],
                     "base_models": ["tiny"]},
                    {"pools": ["demo"], "methods": ["random"], "budgets": [20],
                     "base_models": []}],
}
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(root, job, *rows):
    """A benchmark file of `job` (rule/wildcards) with rows of (wall s, CPU s)."""
    path = root / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{s}\t0:00:01\t1\t1\t1\t1\t0\t0\t50\t{cpu}\n"
                                     for s, cpu in rows))
    return path


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "benchmarks"
    bench(root, "select/demo/random/10", (2.0, 1.5))
    bench(root, "select/demo/ifd/10", (1.0, 0.5))
    bench(root, "select/demo/random/20", (3.0, 2.0))
    bench(root, "select/other/random/10", (99.0, 99.0))  # a pool not in this grid
    bench(root, "ifd_score_shard/demo/small/1-of-2", (10.0, 18.0))
    bench(root, "ifd_score_shard/demo/small/2-of-2", (12.0, 20.0))
    bench(root, "ifd_gather/demo/small", (1.0, 1.0))
    bench(root, "train/demo-random-10-tiny", (100.0, 190.0), (110.0, 210.0))  # repeat: mean
    bench(root, "train/demo-ifd-10-tiny", (90.0, 170.0))
    bench(root, "lmeval/base-tiny", (5.0, 9.0))
    bench(root, "lmeval/demo-random-10-tiny", (6.0, 11.0))
    bench(root, "bpc/demo-random-10-tiny/small_cc", (4.0, 3.0))
    bench(root, "pairwise_judge/demo-ifd-10-tiny/vs_base-tiny", (7.0, 1.0))
    bench(root, "ifd_score_shard/demo/iterit-tiny/1-of-1", (8.0, 15.0))  # IterIT's epoch 0
    bench(root, "train_iterit/demo-iterit-10-tiny", (80.0, 150.0))
    bench(root, "convert_pool/demo", (50.0, 50.0))  # no stage: not counted
    return root


def test_read_benchmark_is_the_mean_of_its_rows(root):
    assert read_benchmark(root / "train/demo-random-10-tiny.tsv") == (105.0, 200.0)


def test_benchmark_jobs_are_those_of_the_mapped_rules(root):
    jobs = benchmark_jobs(root)
    assert {j.rule for j in jobs} <= set(STAGES) and len(jobs) == 15
    shard = next(j for j in jobs if j.rule == "ifd_score_shard" and "small" in j.wildcards)
    assert (shard.stage, shard.wildcards) == ("scoring", ("demo", "small", "1-of-2"))


def test_cost_table_sums_each_stage_per_run_and_untrained_selection(root):
    table = cost_table(benchmark_jobs(root), CONFIG)
    assert list(table.columns) == ["pool", "method", "budget", "base model", *COST_COLUMNS]
    assert table[["method", "budget", "base model"]].values.tolist() == [
        ["base", "-", "tiny"], ["random", "10", "tiny"], ["ifd", "10", "tiny"],
        ["iterit", "10", "tiny"], ["random", "20", "-"]]
    rows = table.set_index(["method", "budget"])
    assert rows.loc[("base", "-"), ["evaluation wall s", "total CPU s"]].tolist() == [5.0, 9.0]
    assert rows.loc[("base", "-"), ["selection wall s", "training CPU s"]].isna().all()
    random = rows.loc[("random", "10")]
    assert random[["selection wall s", "selection CPU s", "training wall s",
                   "evaluation wall s", "evaluation CPU s"]].tolist() == [2.0, 1.5, 105.0, 10.0,
                                                                          14.0]
    assert pd.isna(random["scoring wall s"])  # random reads no scores
    assert random["total wall s"] == 2.0 + 105.0 + 10.0
    ifd = rows.loc[("ifd", "10")]
    assert ifd[["scoring wall s", "scoring CPU s", "evaluation wall s"]].tolist() == [
        23.0, 39.0, 7.0]
    assert ifd["total CPU s"] == 0.5 + 39.0 + 170.0 + 1.0
    iterit = rows.loc[("iterit", "10")]  # selects while training: no selection job
    assert iterit[["scoring wall s", "training wall s", "total CPU s"]].tolist() == [
        8.0, 80.0, 165.0]
    assert pd.isna(iterit["selection wall s"])
    untrained = rows.loc[("random", "20")]
    assert untrained[["selection wall s", "total wall s"]].tolist() == [3.0, 3.0]
    assert untrained[["training wall s", "evaluation wall s"]].isna().all()
    cells = [c.strip() for c in to_markdown(table).splitlines()[2].split("|")]
    assert cells[5:7] == ["-", "-"]


def test_cost_table_without_benchmarks_is_all_missing(tmp_path):
    table = cost_table(benchmark_jobs(tmp_path / "none"), CONFIG)
    assert len(table) == 5 and table[COST_COLUMNS].isna().all().all()


def test_every_benchmarked_rule_has_a_stage_or_is_shared_input():
    benchmarked = {m.group(1) for smk in (ROOT / "rules").glob("*.smk")
                   for m in re.finditer(r'paths\.benchmark\("(\w+)/', smk.read_text())}
    assert benchmarked == set(STAGES) | NOT_A_STAGE
