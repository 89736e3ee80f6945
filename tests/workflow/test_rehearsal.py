"""Rehearsals of the recipes (configs/rehearsal.yaml after a recipe, as the README shows): the
rehearsal plans the recipe's rules, and each training recipe rehearses for real, to its tables,
in a scratch folder beside which ../shared resolves as beside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, SHARED, SNAKEMAKE, planned_jobs
from workflow_lib.config.grid import runs
from workflow_lib.config.rehearsal import trains
from workflow_lib.config.validate import validate_config
from workflow_lib.report.tables import REHEARSAL

OVERLAY = ROOT / "configs" / "rehearsal.yaml"
RECIPES = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p != OVERLAY)
TRAINING = [p for p in RECIPES if trains(validate_config(yaml.safe_load(p.read_text())))]
NO_SHARED = "needs ../shared/data beside the repository (the real public samples)"
# The stand-ins of the data sources: a hub pool's download becomes the generated demo pool, and
# a config without pools gains one (the tiny model's tokenizer, the held-out tasks).
STAND_IN_RULES = {"generate_demo_pool", "convert_pool"}
REPLACED_RULES = {"download_pool"}
# Every rehearsal together takes about an hour here, longer than the suite's budget: `make test`
# rehearses ZIP's (ZeRO-3 through the train rule) and IterIT's (one process through IterIT's
# rule, as the authors' script; ZeRO-2 under IterIT runs in tests/unit/train/test_iterit_train.py);
# the others, FSDP's superfiltering-alpaca among them (~9 min; FSDP itself runs in
# tests/unit/train/test_strategy_runs.py), run with SIEVE_REHEARSE_ALL=1 (`make rehearse`).
IN_MAKE_TEST = {"zip-deita.yaml", "iterit-llama3.yaml"}
ALL = os.environ.get("SIEVE_REHEARSE_ALL") == "1"
NOT_ALL = "a rehearsal beyond make test's: SIEVE_REHEARSE_ALL=1 or make rehearse"


def needs_shared(recipe: Path) -> bool:
    return "../shared/" in recipe.read_text()


def snakemake_run(workdir: Path, *configfiles: Path, args: tuple[str, ...] = ()
                  ) -> subprocess.CompletedProcess:
    """Snakemake in `workdir` with the recipe's config files, as a user gives them."""
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--configfile", *map(str, configfiles),
         "--workflow-profile", str(ROOT / "profiles" / "default"), "--cores", "2", *args],
        capture_output=True, text=True, cwd=workdir)


def planned_rules(workdir: Path, *configfiles: Path) -> set[str]:
    proc = snakemake_run(workdir, *configfiles, args=("-n", "--forceall"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return set(planned_jobs(proc)) - {"all"}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_rehearsal_plans_the_recipes_rules(recipe):
    if needs_shared(recipe) and not SHARED.is_dir():
        pytest.skip(NO_SHARED)
    original = planned_rules(ROOT, recipe)
    rehearsal = planned_rules(ROOT, recipe, OVERLAY)
    assert original - rehearsal <= REPLACED_RULES, original - rehearsal
    assert rehearsal - original <= STAND_IN_RULES, rehearsal - original
    assert original & REPLACED_RULES <= set() or "generate_demo_pool" in rehearsal
    assert original - REPLACED_RULES <= rehearsal


def rehearse(recipe: Path, tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess, float]:
    """The whole rehearsal of `recipe`, for real, in tmp_path/repo (../shared beside it)."""
    workdir = tmp_path / "repo"
    workdir.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED.resolve())
    start = time.monotonic()
    proc = snakemake_run(workdir, recipe, OVERLAY)
    return workdir, proc, time.monotonic() - start


def merged_config(recipe: Path) -> dict:
    config = yaml.safe_load(recipe.read_text())
    config.update(yaml.safe_load(OVERLAY.read_text()))  # the recipes have no `rehearsal` block
    return validate_config(config)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", TRAINING, ids=lambda p: p.name)
def test_training_recipe_rehearses_to_its_tables(recipe, tmp_path, summary):
    if needs_shared(recipe) and not SHARED.is_dir():
        pytest.skip(NO_SHARED)
    config = merged_config(recipe)
    if recipe.name not in IN_MAKE_TEST and not ALL:
        pytest.skip(NOT_ALL)
    workdir, proc, seconds = rehearse(recipe, tmp_path)
    summary.append(f"rehearsal of configs/{recipe.name}: {seconds:.0f} s "
                   f"({config['train']['distributed']['strategy']}, "
                   f"{sum(1 for r in runs(config) if r.selection)} fine-tunes)")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "REHEARSAL:" in proc.stderr
    table = (workdir / "results/tables/main.md").read_text()
    assert table.startswith(f"| {REHEARSAL}"), table[:200]
    metrics = (workdir / "results/tables/metrics.csv").read_text()
    train = config["train"]
    for run in runs(config):
        assert f"\n{run.name}," in metrics, f"{run.name} has no metrics"
        if run.selection is None:
            continue
        manifest = json.loads((workdir / run.model_dir / "manifest.json").read_text())
        assert manifest["rehearsal"]["changes"] == config["rehearsal"]["changes"]
        assert manifest["train"]["distributed"] == train["distributed"]
        assert manifest["train"]["chat_template"] == train["chat_template"]
        assert manifest["batch"]["global_batch_size"] == train["global_batch_size"], \
            manifest["batch"]
        # It trained: optimizer steps logged (a 0-step Axolotl run reports train_loss 0).
        assert manifest["metrics"]["logged_losses"], f"{run.name}: no optimizer step"
        assert manifest["metrics"]["train_loss"] > 0, run.name


def test_rehearsal_of_a_config_that_does_not_train_says_what_it_skipped(tmp_path):
    """configs/compression-intelligence.yaml evaluates base models only: the rehearsal says in
    one line what it skipped, and plans what the config does (a dry run; the real evaluation
    run is the slow test below)."""
    recipe = ROOT / "configs" / "compression-intelligence.yaml"
    proc = snakemake_run(ROOT, recipe, OVERLAY, args=("-n", "--forceall"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    skipped = [line for line in proc.stderr.splitlines() if line.startswith("REHEARSAL skipped")]
    assert len(skipped) == 1 and "trains nothing" in skipped[0], skipped
    jobs = planned_jobs(proc)
    assert "train" not in jobs and jobs["lmeval"] == jobs["bpc_metrics"] == 11, jobs


@pytest.mark.slow
def test_rehearsal_of_a_config_that_does_not_train_runs_its_evaluation(tmp_path, summary):
    if not ALL:
        pytest.skip(NOT_ALL)
    recipe = ROOT / "configs" / "compression-intelligence.yaml"
    workdir, proc, seconds = rehearse(recipe, tmp_path)
    summary.append(f"rehearsal of configs/{recipe.name}: {seconds:.0f} s (evaluation only)")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (workdir / "results/plots/bpc_vs_score.png").stat().st_size > 0
    correlations = (workdir / "results/tables/correlations.csv").read_text()
    assert {"knowledge", "coding", "math", "overall"} <= {
        line.split(",")[0] for line in correlations.splitlines()[1:]}
