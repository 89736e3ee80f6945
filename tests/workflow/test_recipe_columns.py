"""The paper recipes' header columns: each paper recipe's leading comment block names its paper's
main table (`# Paper table: ...`) and maps every column of it to what produces it, one line each:

    #   column: <paper column> -> <evaluator>:<benchmark>:<metric> | exact
    #   column: <paper column> -> <evaluator>:<benchmark>:<metric> | approximation: <how it differs>
    #   column: <paper column> -> - | missing: <why>

`<evaluator>` is a name of the evaluator registry (`benchmark` and `metric` as the run's
metrics.json rows name them, results/tables/metrics.csv) or `area` (a BPC area of
eval.bpc.areas, metric `score`: the area's weighted mean in results/tables/correlations.csv).
Every column that is not missing must be produced by the recipe: its evaluator's metrics files
(or, for an area, the BPC plots) are planned by a dry run of the recipe, the evaluator is
enabled, and the (benchmark, metric) row is one the recipe's tasks, corpora, pairs or the
evaluator's paper columns give.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, SHARED
from workflow_lib.config.columns import Column, parse_column, parse_header
from workflow_lib.config.validate import validate_config
from workflow_lib.evaluate.lmeval.protocols import AVERAGE, PROTOCOLS, chosen_benchmarks
from workflow_lib.evaluate.lmeval.tasks import LOCAL_KINDS
from workflow_lib.evaluate.registry import EVALUATORS

PAPER_RECIPES = ["superfiltering-alpaca.yaml", "iterit-llama3.yaml", "iterit-alpaca.yaml",
                 "zip-deita.yaml", "mtbench-gpt4.yaml", "compression-intelligence.yaml"]
NO_SHARED = "needs ../shared/data beside the repository (the real public samples)"


# --- what a recipe's lm-eval tasks report -------------------------------------------------------

# lm-eval 0.4's metrics of a task without a metric_list (lm_eval/api/registry.py,
# DEFAULT_METRIC_REGISTRY).
DEFAULT_METRICS = {"loglikelihood": ["perplexity", "acc"], "multiple_choice": ["acc", "acc_norm"],
                   "generate_until": ["exact_match"],
                   "loglikelihood_rolling": ["word_perplexity", "byte_perplexity",
                                             "bits_per_byte"]}
NAME = re.compile(r'^"?(task|group|tag)"?:\s*"?([\w.\-]+)"?\s*$', re.MULTILINE)


class _TaskLoader(yaml.SafeLoader):
    """lm-eval's task YAML, a `!function module.name` read as the function's name (the name
    lm-eval gives a metric computed by a function)."""


_TaskLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: str(loader.construct_scalar(node)).rsplit(".", 1)[-1]
    if isinstance(node, yaml.ScalarNode) else None)


def _metric_names(entry: dict) -> list[str]:
    """A metric_list entry's metric names: a `pass_at_k` function reports `pass@{k}` per k
    (lm-eval's humaneval)."""
    if entry["metric"] == "pass_at_k" and entry.get("k"):
        return [f"pass@{k}" for k in entry["k"]]
    return [entry["metric"]]


def lmeval_task_folder() -> Path | None:
    folders = sorted(ROOT.glob(".venv-tools/lib/python3*/site-packages/lm_eval/tasks"))
    return folders[-1] if folders else None


@functools.cache
def task_index() -> tuple[dict[str, Path], dict[str, list[str]]]:
    """lm-eval's task and group names -> their YAML file, and tag -> the tasks it names."""
    files, tags = {}, {}
    for path in sorted(lmeval_task_folder().rglob("*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        found = NAME.findall(text)
        names = [value for key, value in found if key in ("task", "group")]
        for name in names[:1]:
            files.setdefault(name, path)
        for key, value in found:
            if key == "tag" and names:
                tags.setdefault(value, []).append(names[0])
    return files, tags


def _load(path: Path) -> dict:
    """A task YAML with its `include` chain merged in (the file's own keys win)."""
    config = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskLoader) or {}
    include = config.pop("include", None)
    return {**_load(path.parent / include), **config} if include else config


def task_rows(config: dict) -> set[tuple[str, str]]:
    """(benchmark, metric) rows of one task or group config, as `tidy_metrics` names them."""
    if "group" in config:  # an aggregate over a filter is named by it (bbh's get-answer)
        return {(config["group"], m["metric"] if m.get("filter_list", "none") == "none"
                 else f"{m['metric']}_{m['filter_list']}")
                for m in config.get("aggregate_metric_list") or []}
    metrics = [n for m in config.get("metric_list") or [] for n in _metric_names(m)] or \
        DEFAULT_METRICS[config.get("output_type", "loglikelihood")]
    filters = [f["name"] for f in config.get("filter_list") or []] or ["none"]
    return {(config["task"], m if f == "none" else f"{m}_{f}") for m in metrics for f in filters}


def hub_rows(name: str) -> set[tuple[str, str]]:
    """Rows of an lm-eval task or group by name, its subtasks' included."""
    files, tags = task_index()
    if name in tags and name not in files:
        return set().union(*(hub_rows(task) for task in tags[name]))
    config = _load(files[name])
    rows = task_rows(config)
    if "group" in config:
        rows |= _subtask_rows(config.get("task") or [])
    return rows


def _subtask_rows(entries: Iterable) -> set[tuple[str, str]]:
    rows = set()
    for entry in entries:
        if isinstance(entry, str):
            rows |= hub_rows(entry)
        elif "group" in entry:  # a group defined inline
            rows |= task_rows(entry) | _subtask_rows(entry.get("task") or [])
        else:
            rows |= hub_rows(entry["task"])
    return rows


def lmeval_rows(config: dict, scratch: Path) -> set[tuple[str, str]]:
    """Every (benchmark, metric) the recipe's lm-eval tasks report, with the rows its protocol
    adds (`run.protocol_rows`)."""
    tasks = EVALUATORS["lmeval"].setting(config, "tasks")
    rows = set()
    for name, spec in tasks["local_tasks"].items():
        for task in LOCAL_KINDS[spec["kind"]](name, spec, scratch):
            rows |= task_rows(task)
    for spec in tasks["hub_tasks"]:
        rows |= hub_rows(spec["task"])
    block = config["eval"]["lmeval"]
    chosen = chosen_benchmarks(block)
    rows |= {(b.task, b.metric) for b in chosen}  # the protocol's own rows (a subject mean)
    protocol = PROTOCOLS.get(block["protocol"])
    if chosen and protocol.average and len(chosen) == len(protocol.benchmarks):
        rows.add((block["protocol"], AVERAGE))
    return rows


# --- what a recipe plans ------------------------------------------------------------------------

def planned_outputs(recipe: Path) -> set[str]:
    """Every output file of a dry run of the recipe's default target (all jobs forced)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-n",
         "--forceall", "--cores", "2", "--configfile", str(recipe)],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"{recipe.name}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    outputs = set()
    for line in proc.stdout.splitlines():
        if line.strip().startswith("output:"):
            outputs |= {p.strip() for p in line.split(":", 1)[1].split(",")}
    return outputs


def _pattern(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)))


def column_problems(columns: list[Column], config: dict, outputs: set[str],
                    lmeval: set[tuple[str, str]]) -> list[str]:
    """Why each non-missing column is not produced by the planned jobs (empty: all are)."""
    problems = []
    for column in columns:
        if column.status == "missing":
            continue
        name, benchmark, metric = column.evaluator, column.benchmark, column.metric
        if name == "area":
            areas = config["eval"]["bpc"]["areas"]
            plots = any(p.endswith("tables/correlations.csv") for p in outputs)
            if benchmark not in areas or metric != "score" or not plots:
                problems.append(f"{column}: no BPC area {benchmark!r} with metric 'score' in "
                                f"the planned plots (areas: {', '.join(areas) or 'none'})")
            continue
        evaluator = EVALUATORS.get(name)
        if evaluator is None:
            problems.append(f"{column}: {name!r} is no evaluator ({', '.join(EVALUATORS)}, "
                            "area)")
            continue
        metrics = _pattern(evaluator.metrics)
        if not evaluator.enabled(config) or not any(metrics.search(p) for p in outputs):
            problems.append(f"{column}: the recipe plans no {name} metrics file")
            continue
        if not evaluator.in_paper(benchmark, metric):
            problems.append(f"{column}: ({benchmark}, {metric}) is not one of {name}'s paper "
                            "columns")
        elif name == "lmeval" and (benchmark, metric) not in lmeval:
            near = sorted(m for b, m in lmeval if b == benchmark)
            problems.append(f"{column}: the recipe's lm-eval tasks report no such row "
                            f"({benchmark}'s metrics: {', '.join(near) or 'not a task'})")
        elif name == "bpc" and (benchmark not in config["eval"]["bpc"]["corpora"]
                                or metric != "bpc"):
            problems.append(f"{column}: not a corpus of eval.bpc.corpora with metric 'bpc'")
        elif name == "pairwise" and benchmark not in {
                f"pairwise_vs_{pair['reference']}" for pair in config["eval"]["pairwise"]["pairs"]}:
            problems.append(f"{column}: no eval.pairwise.pairs reference gives {benchmark!r}")
    return problems


# --- the tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_recipe_header_columns_are_produced_by_its_planned_jobs(name, tmp_path, monkeypatch):
    recipe = ROOT / "configs" / name
    text = recipe.read_text()
    if "../shared/" in text and not SHARED.is_dir():
        pytest.skip(NO_SHARED)
    table, columns = parse_header(text)
    assert table, f"{name}: no '# Paper table: ...' line in its header"
    assert columns, f"{name}: no '#   column: ...' line in its header"
    assert len({c.name for c in columns}) == len(columns), f"{name}: a column is listed twice"
    monkeypatch.chdir(ROOT)  # the recipes' local paths are relative to the repository
    config = validate_config(yaml.safe_load(text))
    needs_hub = any(c.evaluator == "lmeval" for c in columns if c.status != "missing") and \
        EVALUATORS["lmeval"].setting(config, "tasks")["hub_tasks"]
    if needs_hub and lmeval_task_folder() is None:
        pytest.skip("needs lm-eval's task files in .venv-tools (make tools)")
    lmeval = lmeval_rows(config, tmp_path) if EVALUATORS["lmeval"].enabled(config) else set()
    problems = column_problems(columns, config, planned_outputs(recipe), lmeval)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_a_column_the_recipe_does_not_plan_fails():
    """A column naming an evaluator the recipe does not enable, a task it does not run, a metric
    its task does not report, or something that is no evaluator, is reported."""
    config = validate_config(yaml.safe_load((ROOT / "configs" / "zip-deita.yaml").read_text()))
    outputs = {"results/eval/deita_pool-zip-10000-mistral-7b/mtbench/metrics.json"}
    good = parse_column("#   column: MT-bench -> mtbench:mt_bench:score | exact")
    assert column_problems([good], config, outputs, set()) == []
    for line in ("#   column: ARC -> lmeval:arc_challenge:acc_norm | exact",
                 "#   column: MT-bench -> mtbench:mt_bench:turn_3 | exact",
                 "#   column: Win -> pairwise:pairwise_vs_full:winning_score | exact",
                 "#   column: Cost -> benchmarks:select:wall_s | exact",
                 "#   column: Knowledge -> area:knowledge:score | exact"):
        column = parse_column(line)
        assert len(column_problems([column], config, outputs, set())) == 1, line
    # Enabled and planned, but a metric its task does not report.
    rows = {("arc_challenge", "acc"), ("arc_challenge", "acc_norm")}
    config["eval"]["lmeval"]["hub_tasks"] = [{"task": "arc_challenge", "num_fewshot": 25}]
    outputs.add("results/eval/deita_pool-zip-10000-mistral-7b/lmeval/metrics.json")
    ok = parse_column("#   column: ARC -> lmeval:arc_challenge:acc_norm | exact")
    wrong = parse_column("#   column: ARC -> lmeval:arc_challenge:mc2 | exact")
    assert column_problems([ok], config, outputs, rows) == []
    [problem] = column_problems([wrong], config, outputs, rows)
    assert "acc, acc_norm" in problem


@pytest.mark.parametrize("line, message", [
    ("#   column: ARC lmeval:arc_challenge:acc_norm | exact", "not '#   column:"),
    ("#   column: ARC -> lmeval:arc_challenge:acc_norm", "not '#   column:"),
    ("#   column: ARC -> lmeval:arc_challenge | exact", "is not <evaluator>:<benchmark>"),
    ("#   column: ARC -> lmeval:arc_challenge:acc_norm | close", "status 'close'"),
    ("#   column: ARC -> lmeval:arc_challenge:acc_norm | approximation", "needs a note"),
    ("#   column: BBH -> - | missing", "needs a note"),
    ("#   column: BBH -> lmeval:bbh:exact_match | missing: no task", "names no producer"),
])
def test_a_malformed_column_line_fails(line, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_column(line)
    with pytest.raises(ValueError, match=r"^line 2: "):
        parse_header(f"# Paper table: T\n{line}\noffline: true\n")


def test_the_header_ends_at_the_first_line_that_is_not_a_comment():
    text = ("# Paper table: T\n#   column: A -> - | missing: why\noffline: true\n"
            "#   column: B -> nonsense\n")
    assert parse_header(text) == ("T", [Column("A", "missing", note="why")])


def test_lmeval_rows_of_hub_groups_and_filtered_metrics():
    if lmeval_task_folder() is None:
        pytest.skip("needs lm-eval's task files in .venv-tools (make tools)")
    assert {("arc_challenge", "acc"), ("arc_challenge", "acc_norm")} <= hub_rows("arc_challenge")
    rows = hub_rows("mmlu_continuation")
    assert ("mmlu_continuation", "acc") in rows and ("mmlu_continuation", "acc_norm") not in rows
    assert ("mmlu_anatomy_continuation", "acc_norm") in rows
    assert ("gsm8k", "exact_match_strict-match") in hub_rows("gsm8k")


README_ROW = re.compile(r"^\| `configs/(?P<recipe>[\w.-]+\.yaml)` \| (?P<training>.*?) \| "
                        r"(?P<nodes>\d+) nodes?, (?P<gpus>\d+) × 80 GB GPUs? \| "
                        r"`(?P<strategy>\w+)`", re.MULTILINE)


def test_readme_gpu_table_matches_the_recipes():
    """The README's "Run a paper recipe" table: each row's nodes, GPUs,
    strategy and (where it gives one) training length are the recipe's."""
    rows = list(README_ROW.finditer((ROOT / "README.md").read_text()))
    assert {row["recipe"] for row in rows} >= {"superfiltering-alpaca.yaml", "zip-deita.yaml",
                                              "iterit-llama3.yaml"}
    for row in rows:
        train = validate_config(yaml.safe_load((ROOT / "configs" / row["recipe"]).read_text()))[
            "train"]
        dist = train["distributed"]
        assert (int(row["nodes"]), int(row["gpus"]), row["strategy"]) == \
            (dist["nodes"], dist["gpus_per_node"], dist["strategy"]), row[0]
        length = re.search(r"length (\d+)", row["training"])
        assert length is None or int(length.group(1)) == train["sequence_len"], row[0]
