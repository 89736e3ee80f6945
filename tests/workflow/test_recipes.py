"""Recipes and README configs as a user runs them: every `configs/*.yaml` header command (dry
run, exactly as printed plus `-n`), `configs/shared-data.yaml`'s selections on its own data, and
the README's "Use your own pool" config, which selects without any model."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, SHARED, planned_jobs, snakemake, write_config
from workflow_lib.core.jsonio import read_jsonl
from workflow_lib.data.demo_pool import generate_pool
from workflow_lib.data.formats import to_format

RECIPES = sorted((ROOT / "configs").glob("*.yaml"))
COMMAND = re.compile(r"^#\s+(\.venv/bin/snakemake\s.*)$")
NO_SHARED = "needs ../shared/data beside the repository (the real public samples)"


def header_commands(recipe: Path) -> list[list[str]]:
    """The snakemake command lines of a recipe's leading comment block, as argument lists."""
    commands = []
    for line in recipe.read_text().splitlines():
        if not line.startswith("#"):
            break
        match = COMMAND.match(line)
        if match:
            commands.append(shlex.split(match.group(1), comments=True))
    return commands


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_header_commands_dry_run_as_printed(recipe):
    if "../shared/" in recipe.read_text() and not SHARED.is_dir():
        pytest.skip(NO_SHARED)
    commands = header_commands(recipe)
    assert commands, f"{recipe.name}: no `.venv/bin/snakemake` command in its header"
    for argv in commands:
        # -n right after the program: the printed arguments keep their order and meaning.
        proc = subprocess.run([argv[0], "-n", *argv[1:]], cwd=ROOT, capture_output=True,
                              text=True)
        assert proc.returncode == 0, (f"{shlex.join(argv)}:\n{proc.stdout[-2000:]}\n"
                                      f"{proc.stderr[-2000:]}")


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason=NO_SHARED)
def test_shared_data_recipe_selects_on_its_own_data(tmp_path, summary):
    """select_all of configs/shared-data.yaml, for real, in a scratch directory beside which
    ../shared resolves as it does beside the repository."""
    workdir = tmp_path / "repo"
    workdir.mkdir()
    (tmp_path / "shared").symlink_to(SHARED.resolve())
    config = yaml.safe_load((ROOT / "configs" / "shared-data.yaml").read_text())
    write_config(workdir, config)
    start = time.monotonic()
    jobs = planned_jobs(snakemake(workdir, "select_all"))
    summary.append(f"configs/shared-data.yaml select_all: {sum(jobs.values()) - 1} jobs in "
                   f"{time.monotonic() - start:.0f} s")
    assert jobs["select"] == 12, jobs  # 3 zip, 9 baselines
    manifests = sorted((workdir / "results/selections").glob("*/*/*/manifest.json"))
    assert len(manifests) == 12
    for path in manifests:
        manifest = json.loads(path.read_text())
        ids = [record["id"] for _, record in read_jsonl(path.parent / "data.jsonl")]
        assert ids == manifest["selected_ids"] and len(ids) == manifest["stats"]["n_records"]
        if manifest["method"] == "zip":
            assert manifest["zip"]["n_duplicates"] == 0, path
    pools = {p: json.loads((workdir / f"results/pools/{p}.manifest.json").read_text())["written"]
             for p in config["pools"]}
    assert pools == {"alpaca_2k": 2000, "dolly_2k": 2000, "sharegpt_300": 292}


def readme_own_pool_config() -> dict:
    """The YAML block of the README's "Use your own pool" section."""
    section = (ROOT / "README.md").read_text().split("\n## Use your own pool\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block, "README: no ```yaml block in 'Use your own pool'"
    return yaml.safe_load(block.group(1))


@pytest.mark.slow
def test_readme_own_pool_config_selects_without_a_model(tmp_path):
    config = readme_own_pool_config()
    assert "models" not in config and "base_models" not in config["experiments"][0]
    [(name, pool)] = config["pools"].items()
    assert pool["format"] == "alpaca"
    raw = tmp_path / pool["source"]["path"]
    raw.parent.mkdir(parents=True)
    raw.write_text(json.dumps([to_format(r, "alpaca") for r in generate_pool(150)]))
    write_config(tmp_path, config)
    jobs = planned_jobs(snakemake(tmp_path))  # the default target, `all`
    assert set(jobs) == {"convert_pool", "select", "selection_table",
                         "selection_plots", "all"}, jobs
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results/models").exists()
    # 0.1 of 150 is 15 records; ZIP's reference mode selects whole rounds of k3 = 10: 20.
    for method in config["experiments"][0]["methods"]:
        for budget, size in (("30", 30), ("0.1", 20 if method == "zip" else 15)):
            folder = tmp_path / "results/selections" / name / method / budget
            manifest = json.loads((folder / "manifest.json").read_text())
            records = [record for _, record in read_jsonl(folder / "data.jsonl")]
            assert [r["id"] for r in records] == manifest["selected_ids"]
            assert manifest["n_pool"] == 150 and manifest["stats"]["n_records"] == size
            assert manifest["inputs"]["pool"]["sha256"]
            assert records[0]["meta"]["format"] == "alpaca"


def test_compression_intelligence_recipe_evaluates_base_models_only(tmp_path):
    """The evaluation-only recipe plans no selection or training, one lm-eval job per model and
    a BPC job per model and corpus, and the per-area plot (a dry run, no network)."""
    config = yaml.safe_load((ROOT / "configs" / "compression-intelligence.yaml").read_text())
    write_config(tmp_path, config)
    jobs = planned_jobs(snakemake(tmp_path, "-n"))
    models = len(config["models"])
    assert jobs == {"prepare_model": models, "prepare_corpus": 3, "lmeval_tasks": 1,
                    "lmeval": models, "bpc": 3 * models, "bpc_metrics": models,
                    "collect_metrics": 1, "tables": 1, "costs": 1, "bpc_plots": 1, "all": 1}, jobs
