"""The workflow as a user runs it: dry runs of every named target, a real tiny end-to-end run
(the session's `tiny_run`, tests/conftest.py), and malformed pools failing cleanly. Partial reruns
and resumption: tests/workflow/test_reruns.py; cluster execution: tests/workflow/test_slurm.py."""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from tests.support import ROOT, SNAKEMAKE, TINY_CONFIG, planned_jobs, snakemake, write_config
from tests.support.run_outputs import copy_run

NAMED_TARGETS = ["all", "pools", "corpora", "models", "select_all", "selection_report",
                 "train_all", "eval_all", "mtbench_all", "pairwise_all", "tables", "bpc_plots",
                 "entropy_law_plot", "costs"]  # pairwise_plot: part of `all`


@pytest.mark.parametrize("target", NAMED_TARGETS)
def test_dry_run_of_each_named_target_on_the_demo_config(tmp_path, target):
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    proc = snakemake(tmp_path, "-n", target)
    jobs = planned_jobs(proc)
    assert jobs, proc.stdout
    if target in ("all", "select_all"):
        assert jobs["select"] == 5  # random, longest, zip, superfiltering, cherry
        # 2 scorers (3 with IterIT's epoch-0 scorer iterit-smollm2-135m) x scoring.shards (2)
        scorers = 3 if target == "all" else 2
        assert jobs["ifd_gather"] == scorers and jobs["ifd_score_shard"] == 2 * scorers
        assert jobs["convert_pool"] == 1
    if target in ("all", "select_all", "selection_report"):
        assert jobs["selection_table"] == jobs["selection_plots"] == 1  # one pool
        assert "ifd_gather" in jobs  # the rank agreement reads the IFD scores
    if target == "eval_all":
        assert jobs["lmeval"] == 8 and jobs["bpc"] == 16 and jobs["train"] == 5
        assert jobs["train_iterit"] == 2 and jobs["ifd_gather"] == 3  # + iterit-smollm2-135m
    if target in ("eval_all", "mtbench_all"):
        assert jobs["mtbench_answers"] == jobs["mtbench_judge"] == 8
        assert jobs["mtbench_data"] == 1
    if target in ("eval_all", "pairwise_all", "all"):
        # superfiltering and cherry against random: three runs answer, two pairs are judged
        assert jobs["pairwise_answers"] == 3 and jobs["pairwise_data"] == 1
        assert jobs["pairwise_judge"] == jobs["pairwise_metrics"] == 2
        assert ("pairwise_plot" in jobs) == (target == "all")
    if target == "models":
        assert jobs == {"prepare_model": 1, "models": 1}
    if target == "all":
        assert jobs["prepare_model"] == 1 and jobs["generate_demo_pool"] == 1


def test_misspelt_config_key_fails_before_any_job(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["methods"]["random"]["sed"] = 1
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    lines = (proc.stdout + proc.stderr).splitlines()
    assert "ERROR: invalid configuration:" in lines  # the message alone, no traceback lines
    assert "  methods.random: unknown key 'sed' (allowed: description, kind, seed)" in lines
    assert not any(line.lstrip().startswith(("File ", "Traceback")) for line in lines), lines


@pytest.mark.slow
def test_tiny_end_to_end_outputs(tiny_run):
    pool = [json.loads(x) for x in (tiny_run / "results/pools/demo.jsonl").read_text().splitlines()]
    assert len(pool) == 60
    for method, size in (("random", 10), ("longest", 10)):
        folder = tiny_run / "results/selections/demo" / method / "10"
        data = [json.loads(x) for x in (folder / "data.jsonl").read_text().splitlines()]
        manifest = json.loads((folder / "manifest.json").read_text())
        assert len(data) == size == manifest["stats"]["n_records"]
        assert manifest["selected_ids"] == [r["id"] for r in data]
        assert manifest["inputs"]["pool"]["sha256"]
        assert manifest["stats"]["compression_ratio"] > 1
    model_manifest = json.loads((tiny_run / "resources/models/tiny/sieve_model.json").read_text())
    assert all(loss > 0 for loss in model_manifest["check"]["check_losses"])
    assert (tiny_run / "resources/eval/demo/heldout.jsonl").is_file()
    corpus = (tiny_run / "resources/corpora/small_cc.jsonl").read_text().splitlines()
    assert [json.loads(x)["content"] for x in corpus] == ["doc 1 doc 1 ", "doc 3 " * 4]


@pytest.mark.slow
def test_tiny_end_to_end_trains_evaluates_and_reports(tiny_run):
    runs = ["base-tiny", "demo-random-10-tiny", "demo-longest-10-tiny"]
    base = json.loads((tiny_run / "resources/models/tiny/sieve_model.json").read_text())
    for run in runs[1:]:
        manifest = json.loads((tiny_run / "results/models" / run / "manifest.json").read_text())
        assert manifest["n_records"] == 10
        assert (tiny_run / "results/models" / run / "axolotl.yaml").is_file()
        # the model's identity links its preparation, its training and its evaluations
        assert manifest["base_model"]["fingerprint"] == base["fingerprint"]
        evaluated = [json.loads((tiny_run / "results/eval" / run / path).read_text())["model"]
                     for path in ("mtbench/answers.manifest.json", "bpc/small_cc.json")]
        assert {m["fingerprint"] for m in evaluated} == {manifest["model_fingerprint"]}
    table = (tiny_run / "results/tables/metrics.csv").read_text().splitlines()
    header = table[0].split(",")
    assert header[:4] == ["run", "pool", "method", "budget"]
    for run in runs:
        rows = [r for r in table[1:] if r.startswith(run + ",")]
        evaluators = {r.split(",")[header.index("evaluator")] for r in rows}
        assert evaluators == {"lmeval", "bpc", "mtbench"}, (run, rows)
    main = (tiny_run / "results/tables/main.md").read_text().splitlines()
    assert [row.split("|")[2].strip() for row in main[2:]] == ["base", "random", "longest"]
    assert "mt_bench (score) ↑" in main[0] and "mt_bench_math" not in main[0]
    paper = pd.read_csv(tiny_run / "results/tables/main.csv").set_index("method")
    zip_columns = ["ZIP compression ratio", "mean tokens", "first-epoch loss"]
    assert (paper.loc[["random", "longest"], zip_columns] > 0).all().all()
    assert paper.loc["base", zip_columns].isna().all()
    costs = pd.read_csv(tiny_run / "results/tables/costs.csv").set_index("method")
    assert costs.index.tolist() == ["base", "random", "longest"]
    spent = [f"{stage} {what} s" for stage in ("selection", "training", "evaluation", "total")
             for what in ("wall", "CPU")]
    assert (costs.loc[["random", "longest"], spent] >= 0).all().all()  # a quick job: 0 CPU s
    assert (costs.loc[["random", "longest"], spent[2:]] > 0).all().all()
    assert costs.loc["base", "evaluation wall s"] > 0
    assert costs.loc["base", ["selection wall s", "training wall s"]].isna().all()
    assert costs.loc[["random", "longest"], "scoring wall s"].isna().all()  # they read no scores
    header = (tiny_run / "results/tables/costs.md").read_text().splitlines()[0]
    assert [c.strip() for c in header.split("|")[5:7]] == ["selection wall s", "selection CPU s"]
    judged = (tiny_run / "results/eval/base-tiny/mtbench/judgments.jsonl").read_text()
    assert len(judged.splitlines()) == 2 * 5  # one question per fixture category, two turns
    for plot in ("bpc_vs_score.png", "entropy_law.png"):
        assert (tiny_run / "results/plots" / plot).stat().st_size > 10_000
    fits = pd.read_csv(tiny_run / "results/tables/correlations.csv", keep_default_na=False)
    assert fits[["area", "corpus", "points", "n"]].values.tolist() == [
        ["answers", "small_cc", "runs", 2], ["choices", "small_cc", "runs", 3],
        ["overall", "small_cc", "runs", 3]]
    assert fits.excluded.tolist() == ["base-tiny", "", ""]


@pytest.mark.slow
def test_pairwise_judging_added_to_a_finished_run_adds_only_its_jobs(tiny_run, tmp_path):
    """eval.pairwise turned on after the tiny run: longest against random, one question of
    each demo set, the stand-in judge; only the pairwise jobs and the report run."""
    copy_run(tiny_run, tmp_path)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["eval"]["pairwise"] = {"enabled": True, "questions": "demo", "per_set": 1,
                                  "max_length": 96, "pairs": [{"reference": "random"}]}
    write_config(tmp_path, config)
    targets = ("pairwise_plot", "results/tables/main.md")
    assert planned_jobs(snakemake(tmp_path, "-n", *targets)) == {
        "pairwise_data": 1, "pairwise_answers": 2, "pairwise_judge": 1, "pairwise_metrics": 1,
        "collect_metrics": 1, "pairwise_plot": 1, "tables": 1}
    snakemake(tmp_path, *targets)
    pair = tmp_path / "results/eval/demo-longest-10-tiny/pairwise"
    judged = [json.loads(line) for line in (pair / "vs_demo-random-10-tiny/judgments.jsonl")
              .read_text().splitlines()]
    assert len(judged) == 5 and all(r["reference"] == "demo-random-10-tiny" for r in judged)
    assert all(r["attempts"] == [1, 1] for r in judged)  # both orders, each judged once
    rows = {(r["benchmark"], r["metric"]): r["value"]
            for r in json.loads((pair / "metrics.json").read_text())["metrics"]}
    assert sum(rows["pairwise_vs_random", m] for m in ("win", "tie", "lose", "failed")) == 5
    assert not (tmp_path / "results/eval/demo-random-10-tiny/pairwise/metrics.json").exists()
    header = (tmp_path / "results/tables/main.md").read_text().splitlines()[0]
    assert "pairwise_vs_random (winning_score) ↑ [stand-in judge]" in header
    assert "mt_bench (score) ↑ [stand-in judge]" in header
    assert (tmp_path / "results/plots/pairwise.png").stat().st_size > 10_000
    assert "stand-in judge (not a quality judgment)" in \
        (tmp_path / "results/plots/pairwise.svg").read_text()


@pytest.mark.slow
def test_second_invocation_does_nothing(tiny_run):
    proc = snakemake(tiny_run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


BAD_POOLS = {
    "missing field": ('{"instruction": "a", "input": "", "output": "b"}\n'
                      '{"instruction": "c", "input": ""}\n', "alpaca", "output"),
    "wrong type": ('{"instruction": "a", "input": "", "output": 3}\n', "alpaca", "output"),
    "empty conversation": ('{"id": "x1", "conversations": []}\n', "sharegpt", "conversations"),
    "duplicate id": ('{"id": "x1", "conversations": [{"from": "human", "value": "a"}, '
                     '{"from": "gpt", "value": "b"}]}\n' * 2, "sharegpt", "x1"),
    "truncated json": ('{"instruction": "a", "input": "", "output": "b"}\n{"instruction": "c", ',
                       "alpaca", ":2"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", [*sorted(BAD_POOLS), "invalid utf-8"])
def test_malformed_pool_fails_with_one_clear_line_and_no_output(tmp_path, case):
    bad = tmp_path / "bad.jsonl"
    if case == "invalid utf-8":
        bad.write_bytes(b'{"instruction": "a", "input": "", "output": "b"}\n'
                        b'{"instruction": "\xff", "input": "", "output": "b"}\n')
        fmt, needle = "alpaca", ":2"
    else:
        text, fmt, needle = BAD_POOLS[case]
        bad.write_text(text)
    config = json.loads(json.dumps(TINY_CONFIG))
    config["pools"] = {"bad": {"source": {"kind": "local", "path": str(bad)}, "format": fmt}}
    config["models"] = {"tiny": {"source": {"kind": "tiny", "tokenizer_pool": "bad"}}}
    config["experiments"][0]["pools"] = ["bad"]
    config["eval"]["bpc"]["corpora"] = []
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "results/pools/bad.jsonl", check=False)
    assert proc.returncode != 0
    errors = [line for line in (tmp_path / "logs/convert_pool/bad.log").read_text().splitlines()
              if line.startswith("ERROR:")]
    assert len(errors) == 1 and "bad.jsonl" in errors[0] and needle in errors[0], errors
    assert not any((tmp_path / "results").rglob("*")), "partial output left behind"


def odd_sharegpt_pool(n: int = 30) -> list[dict]:
    """n small ShareGPT records; one has an empty instruction, one starts with a gpt turn."""
    rows = [{"id": f"s{i}", "conversations": [
        {"from": "human", "value": f"Question {i}: " + "why " * (i % 7)},
        {"from": "gpt", "value": f"Answer {i}: " + "because " * (i % 5)}]} for i in range(n)]
    rows[3]["conversations"][0]["value"] = ""
    rows[4]["conversations"].insert(0, {"from": "gpt", "value": "Hello!"})
    return rows


@pytest.mark.slow
def test_selection_problems_reach_the_console(tmp_path):
    """A budget above the pool size fails alike in every method; ZIP's repeated records and odd
    pool records are warned about at the end of the run."""
    (tmp_path / "sg.json").write_text(json.dumps(odd_sharegpt_pool()))
    config = json.loads(json.dumps(TINY_CONFIG))
    config["pools"] = {"p": {"source": {"kind": "local", "path": "sg.json"}}}
    config["models"]["tiny"]["source"]["tokenizer_pool"] = "p"
    config["methods"]["zip"] = {"kind": "zip", "k1": 30, "k2": 5, "k3": 5}
    config["experiments"] = [
        {"pools": ["p"], "methods": ["random", "longest", "zip"], "budgets": [31],
         "base_models": ["tiny"]},
        {"pools": ["p"], "methods": ["zip"], "budgets": [21], "base_models": ["tiny"]}]
    config["eval"]["bpc"]["corpora"] = []
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "--keep-going", "select_all", check=False)
    console = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in console
    for method in ("random", "longest", "zip"):
        assert (f"ERROR: results/pools/p.jsonl: method '{method}': budget 31 exceeds the pool "
                "size 30") in console
    warnings = console[console.index("Warnings from 2 job(s)"):]
    assert "1 of 30 records have an empty instruction" in warnings
    assert "1 of 30 records have a conversation that starts with an assistant turn" in warnings
    assert ("logs/select/p/zip/21.log: ZIP selected 1 record(s) more than once: with "
            "k1=30") in warnings and "k1 <= 10 never repeats a record" in warnings
    manifest = json.loads((tmp_path / "results/pools/p.manifest.json").read_text())
    assert manifest["empty_instruction"] == manifest["assistant_first"] == 1
    assert "round 5/5: 25/25 selected" in (tmp_path / "logs/select/p/zip/21.log").read_text()


def test_pool_health_reaches_the_console_and_the_manifest_and_drop_removes_records(tmp_path):
    """Empty responses and duplicates are counted at conversion and warned about at the end of
    the run; `drop` leaves them out and counts them (workflow_lib/data/health.py)."""
    rows = [{"instruction": f"Question {i}", "output": f"Answer {i}"} for i in range(6)]
    rows += [{"instruction": "Question 0", "output": "Answer 0"},
             {"instruction": "Q", "output": ""}]
    (tmp_path / "raw.json").write_text(json.dumps(rows))
    source = {"kind": "local", "path": "raw.json"}
    write_config(tmp_path, {
        "pools": {"kept": {"source": source},
                  "dropped": {"source": source, "drop": ["empty_response", "duplicate"]}},
        "methods": {"random": {"kind": "random"}},
        "experiments": [{"pools": ["kept", "dropped"], "methods": ["random"], "budgets": [2]}]})
    console = snakemake(tmp_path, "results/pools/kept.jsonl", "results/pools/dropped.jsonl").stderr
    warnings = console[console.index("Warnings from 2 job(s)"):]
    found = "of 8 records, 1 with an empty response; 1 with the conversation of an earlier record"
    assert f"logs/convert_pool/kept.log: raw.json: pool health: {found}" in warnings
    assert "all kept" in warnings and "dropped 2 (empty_response, duplicate)" in warnings
    for pool, written, dropped in (("kept", 8, {}),
                                   ("dropped", 6, {"empty_response": 1, "duplicate": 1})):
        manifest = json.loads((tmp_path / f"results/pools/{pool}.manifest.json").read_text())
        assert manifest["written"] == written and manifest["dropped"] == dropped
        assert manifest["health"]["empty_response"] == manifest["health"]["duplicate"] == 1


SELECTION_ONLY = {"pools": {"p": {"source": {"kind": "demo", "n": 150}}},
                  "methods": {"random": {"kind": "random"},
                              "zip": {"kind": "zip", "k1": 150, "k2": 40, "k3": 20}}}


def test_each_bad_budget_is_one_line_and_a_whole_float_is_a_count(tmp_path):
    write_config(tmp_path, {**SELECTION_ONLY, "experiments": [
        {"pools": ["p"], "methods": ["random"], "budgets": [0, -5, 1.5, 1.0, 100.0]}]})
    proc = snakemake(tmp_path, "-n", check=False)
    lines = (proc.stdout + proc.stderr).splitlines()
    start = lines.index("ERROR: invalid configuration:")
    form = 'a count of records (an integer ≥ 1), a fraction of the pool (0 < x < 1) or "all"'
    assert lines[start + 1:] == [
        f"  experiments.0.budgets.0: 0 is not a budget: {form}",
        f"  experiments.0.budgets.1: -5 is not a budget: {form}",
        f"  experiments.0.budgets.2: 1.5 is not a budget: {form}",
        '  experiments.0.budgets.3: 1.0 is ambiguous: write 1 for one record or "all" for the '
        "whole pool (a fraction is below 1)"]
    write_config(tmp_path, {**SELECTION_ONLY, "experiments": [
        {"pools": ["p"], "methods": ["random"], "budgets": [100.0]}]})
    plan = snakemake(tmp_path, "-n", "select_all").stdout
    assert "results/selections/p/random/100/data.jsonl" in plan and "100.0" not in plan


@pytest.mark.slow
def test_selection_sizes_reach_the_console_the_manifest_and_the_table(tmp_path):
    """ZIP rounds 15 records (0.1 of 150) up to a round of k3 = 20: said at the end of the run
    (after the pool's health), in its manifest and in the selections table, beside random's 15
    of 15."""
    write_config(tmp_path, {**SELECTION_ONLY, "experiments": [
        {"pools": ["p"], "methods": ["random", "zip"], "budgets": [0.1]}]})
    console = snakemake(tmp_path, "select_all").stderr
    warnings = console[console.index("Warnings from 2 job(s)"):].splitlines()
    assert warnings[1].startswith("  logs/convert_pool/p.log: ")  # the pool's health
    assert warnings[1].endswith("pool health: of 150 records, 7 with an empty response; all kept "
                                "(`health` in the manifest; `pools.<name>.drop` removes them)")
    assert warnings[2] == (
        "  logs/select/p/zip/0.1.log: selected 20 records, budget 0.1 asks for 15: ZIP's "
        "reference mode selects whole rounds of k3=20 (quirk Q2; mode clean selects the budget "
        "exactly)")
    for method, selected in (("random", 15), ("zip", 20)):
        manifest = json.loads((tmp_path / f"results/selections/p/{method}/0.1/manifest.json")
                              .read_text())
        assert (manifest["requested"], manifest["selected"]) == (15, selected)
    table = pd.read_csv(tmp_path / "results/tables/selections.csv")
    assert table[["method", "requested", "selected"]].values.tolist() == [
        ["random", 15, 15], ["zip", 15, 20]]
    assert "|   requested |   selected |" in (tmp_path / "results/tables/selections.md").read_text()


@pytest.mark.slow
def test_local_pool_path_changed_to_a_missing_file_stops_the_run(tmp_path):
    """Snakemake skips the inputs of a job whose outputs exist: the check names the file."""
    (tmp_path / "pool.jsonl").write_text('{"instruction": "q", "input": "", "output": "a"}\n')
    config = json.loads(json.dumps(TINY_CONFIG))
    config["pools"] = {"p": {"source": {"kind": "local", "path": "pool.jsonl"}}}
    config["models"]["tiny"]["source"]["tokenizer_pool"] = "p"
    config["experiments"][0]["pools"] = ["p"]
    config["eval"]["bpc"]["corpora"] = []
    write_config(tmp_path, config)
    snakemake(tmp_path, "results/pools/p.jsonl")
    config["pools"]["p"]["source"]["path"] = "moved.jsonl"
    write_config(tmp_path, config)
    proc = snakemake(tmp_path, "-n", "results/pools/p.jsonl", check=False)
    assert proc.returncode != 0
    assert ("ERROR: pools.p.source.path: moved.jsonl does not exist (results/pools/p.jsonl was "
            "made from an earlier file; correct the path or restore the file)") in proc.stderr


def test_slurm_profile_is_accepted_by_snakemake(tmp_path):
    """The cluster profile parses and plans the demo (submission itself: issue 7's real test)."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    proc = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
         "--workflow-profile", str(ROOT / "profiles" / "slurm"), "-n"],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert planned_jobs(proc)["train"] == 5


def local_pool_config(tmp_path, fmt: str) -> None:
    (tmp_path / "pool.jsonl").write_text(
        '{"instruction": "Say hi", "input": "", "output": "hi"}\n', encoding="utf-8")
    write_config(tmp_path, {
        "pools": {"p": {"source": {"kind": "local", "path": "pool.jsonl"}, "format": fmt}},
        "methods": {"random": {"kind": "random"}},
        "experiments": [{"pools": ["p"], "methods": ["random"], "budgets": [1]}]})


def test_a_failed_job_s_error_is_repeated_at_the_end_with_a_format_hint(tmp_path):
    local_pool_config(tmp_path, "sharegpt")
    proc = snakemake(tmp_path, "select_all", check=False)
    assert proc.returncode != 0 and "Shell command" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    end = lines.index("Failed: 1 job(s); their errors (full logs above and in the files):")
    assert lines[end + 1] == (
        "  logs/convert_pool/p.log: ERROR: pool.jsonl:1: record 'p-0': field 'conversations': "
        "missing; the record looks like alpaca (its keys: ['instruction', 'input', 'output']): "
        "set `format: alpaca`")
    # After it, only Snakemake's own closing lines (log path, elapsed time, its summary).
    assert not [line for line in lines[end + 2:] if "ERROR" in line or "Error in" in line]


def test_a_folder_as_pool_and_a_yaml_syntax_error_are_one_line(tmp_path):
    local_pool_config(tmp_path, "alpaca")
    (tmp_path / "pool.jsonl").unlink()
    (tmp_path / "pool.jsonl").mkdir()
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.stderr.splitlines()[-1] == (
        "ERROR: pools.p.source.path: pool.jsonl is a folder; give the data file itself "
        "(JSON or JSONL)")
    (tmp_path / "config.yaml").write_text("pools:\n  p: {source: {kind: demo}\nmethods: {}\n")
    proc = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "-n", "--cores", "1"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0
    assert (proc.stdout + proc.stderr).splitlines()[-1] == (
        "ERROR: config.yaml:3:1: not valid YAML: expected ',' or '}', but got '<scalar>'")
