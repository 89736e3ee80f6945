"""The paths module is the one place where the workflow's file patterns are spelled: no rule file
spells a `results/`, `resources/`, `logs/` or `benchmarks/` path, and the patterns are the ones the
outputs have always had."""

from __future__ import annotations

import re
from pathlib import Path

from workflow_lib.config.grid import Run, Selection
from workflow_lib.config.scorers import iterit_scorer_name
from workflow_lib.core import paths
from workflow_lib.evaluate.registry import EVALUATORS

ROOT = Path(__file__).resolve().parents[3]
ROOTS = (paths.RESULTS, paths.RESOURCES, paths.LOGS, paths.BENCHMARKS)
# A string literal whose text starts with one of the trees (or a docstring line naming one).
LITERAL = re.compile(r"""["'](?:results|resources|logs|benchmarks)/""")


def workflow_files() -> list[Path]:
    return [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]


def test_no_rule_file_spells_a_path_of_its_own():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in workflow_files()
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if LITERAL.search(line) or any(f"{root}/" in line for root in ROOTS)]
    assert found == []


def test_the_check_finds_a_spelled_path():
    """The pattern of the check above matches the literals rules used to have."""
    assert LITERAL.search('        corpus="resources/corpora/{corpus}.jsonl",')
    assert LITERAL.search("        'logs/bpc/{run}/{corpus}.log',")
    assert not LITERAL.search("        corpus=paths.CORPUS,")


def test_each_tree_has_one_root_constant():
    for name in dir(paths):
        value = getattr(paths, name)
        if name.isupper() and isinstance(value, str) and value not in ROOTS:
            assert value.split("/", 1)[0] in ROOTS, name


def test_patterns_are_the_paths_the_outputs_have_always_had():
    assert paths.POOL == "results/pools/{pool}.jsonl"
    assert paths.SCORES == "results/scores/{pool}/{scorer}.parquet"
    assert paths.fill(paths.SCORES, pool="demo", scorer=iterit_scorer_name("m")) \
        == "results/scores/demo/iterit-m.parquet"
    assert paths.log("bpc/{run}/{corpus}") == "logs/bpc/{run}/{corpus}.log"
    assert paths.benchmark("train/{run}") == "benchmarks/train/{run}.tsv"
    assert paths.fill(paths.MAIN_TABLE, ext="md") == "results/tables/main.md"
    assert Selection("demo", "zip", "60").path == "results/selections/demo/zip/60"
    assert Run("demo-zip-60-m", "m", Selection("demo", "zip", "60")).model_dir \
        == "results/models/demo-zip-60-m"
    assert Run("base-m", "m").model_dir == "resources/models/m"
    pairwise = EVALUATORS["pairwise"]
    assert pairwise.metrics_file("r") == "results/eval/r/pairwise/metrics.json"
    assert pairwise.path("judgments", "r", reference="b") \
        == "results/eval/r/pairwise/vs_b/judgments.jsonl"
    assert pairwise.path("answers", "{reference}") \
        == "results/eval/{reference}/pairwise/answers.jsonl"


def test_fill_leaves_other_wildcards():
    assert paths.fill(paths.SCORE_SHARD, pool="p") \
        == "results/scores/p/{scorer}/{scatteritem}.jsonl"
