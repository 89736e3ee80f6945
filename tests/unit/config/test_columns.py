"""A recipe header's columns at config validation: each problem one line naming the column."""

from __future__ import annotations

import subprocess

import yaml

from tests.support import ROOT, SNAKEMAKE
from workflow_lib.config.columns import header_problems
from workflow_lib.config.validate import validate_config

HEADER = """# Paper table: T
#   column: MT-bench -> mtbench:mt_bench:score | exact
#   column: Win rate -> alpaca_eval:alpaca_eval:win_rate | exact
#   column: Coding -> area:coding:score | approximation: fewer benchmarks
#   column: MixEval -> - | missing: not installable
"""


def recipe(tmp_path, header: str = HEADER) -> tuple:
    """The demo's config without AlpacaEval, under `header`."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config["eval"]["alpaca_eval"]["enabled"] = False
    path = tmp_path / "recipe.yaml"
    path.write_text(header + yaml.safe_dump(config), encoding="utf-8")
    return path, config


def test_columns_whose_evaluator_the_config_does_not_run_are_one_line_each(tmp_path):
    path, raw = recipe(tmp_path)
    config = validate_config(raw)
    assert config["eval"]["mtbench"]["enabled"] and not config["eval"]["alpaca_eval"]["enabled"]
    assert header_problems(path, config) == [
        f"{path}: column 'Win rate': its evaluator 'alpaca_eval' is not enabled in this config; "
        "enable it or mark the column missing",
        f"{path}: column 'Coding': no BPC area 'coding' in eval.bpc.areas"]


def test_a_malformed_column_and_an_unknown_evaluator(tmp_path):
    path, raw = recipe(tmp_path, "#   column: A -> judge:x:y | exact\n")
    assert header_problems(path, validate_config(raw)) == [
        f"{path}: column 'A': no evaluator 'judge' (evaluators: lmeval, bpc, mtbench, pairwise, "
        "alpaca_eval)"]
    path, raw = recipe(tmp_path, "#   column: A -> lmeval:x | exact\n")
    assert header_problems(path, validate_config(raw)) == [
        f"{path}: line 1: column 'A': 'lmeval:x' is not <evaluator>:<benchmark>:<metric>"]
    assert header_problems(ROOT / "config.yaml", validate_config(raw)) == []  # no header


def test_snakemake_stops_before_any_job(tmp_path):
    path, _ = recipe(tmp_path)
    proc = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(path),
                           "-n", "--cores", "1"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.splitlines()[-1] == (
        f"ERROR: {path}: column 'Win rate': its evaluator 'alpaca_eval' is not enabled in this "
        "config; enable it or mark the column missing")
