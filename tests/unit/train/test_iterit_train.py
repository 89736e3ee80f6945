"""IterIT during training: the scoring spans, the epoch schedule on a tiny model (in process),
and one real Axolotl run with the plugin (subset per epoch, continuous LR schedule, files)."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
import yaml

from tests.support import ROOT, TOOLS_PYTHON, train_block
from workflow_lib.config.grid import Selection, runs, selections
from workflow_lib.config.scorers import all_scorers
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError
from workflow_lib.core.jsonio import read_jsonl, write_jsonl
from workflow_lib.models.identity import model_fingerprint, model_identity
from workflow_lib.models.tiny import build_tiny_model
from workflow_lib.scoring.ifd import score_pool_shard
from workflow_lib.scoring.iterit_ifd import (
    ifd_from_losses,
    ifd_scores,
    round_scores,
    scoring_texts,
    span_items,
)
from workflow_lib.scoring.shards import gather_scores
from workflow_lib.select.budget import Budget, BudgetError
from workflow_lib.select.iterit.schedule import IterITSchedule, IterITSettings
from workflow_lib.train.iterit import iterit_overrides, subset_size, total_steps, train_iterit

WORDS = ["alpha", "beta", "gamma", "delta", "apple", "river", "stone", "cloud", "seven", "green",
         "quick", "slow"]
METHOD = {"kind": "iterit", "strategy": "iterative", "num_epochs": 2, "update_ratio": 3,
          "score_type": "BOTH", "diversity_weight_decay": 0.1, "score_batch_size": 8,
          "score_precision": "bf16"}


def make_records(n: int = 40) -> list[dict]:
    rng = random.Random(0)
    return [{"id": f"r{i}", "source": "t", "meta": {}, "conversations": [
        {"from": "human", "value": f"Question {i}: say something about {rng.choice(WORDS)}"},
        {"from": "gpt", "value": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12)))},
    ]} for i in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(pool JSONL, tiny llama folder, records)."""
    root = tmp_path_factory.mktemp("iterit")
    records = make_records()
    write_jsonl(root / "pool.jsonl", records)
    texts = [t["value"] for r in records for t in r["conversations"]]
    return str(root / "pool.jsonl"), str(build_tiny_model(root / "tiny", texts)), records


def test_iterit_methods_are_grid_cells_without_selection_files():
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert config["methods"]["iterit"] == {**METHOD, "num_epochs": 2}
    assert config["methods"]["iterit_baseline"]["strategy"] == "baseline"
    cells = list(selections(config))
    assert Selection("demo", "iterit", "30", during_training=True) in cells
    assert Selection("demo", "zip", "60") in cells
    run = next(r for r in runs(config) if r.name == "demo-iterit-30-smollm2-135m")
    assert run.model_dir == "results/models/demo-iterit-30-smollm2-135m"


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda c: c["methods"]["iterit"].update(strategy="adaptive"), "methods.iterit.strategy:"),
    (lambda c: c["methods"]["iterit"].update(ratio=0.05), "methods.iterit: unknown key 'ratio'"),
    (lambda c: c["experiments"][1].update(budgets=[40, "all"]),
     "experiments.1.budgets: 'all' cannot be the per-epoch budget of iterit, iterit_baseline"),
])
def test_invalid_iterit_configs_name_the_key(mutate, expected):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert expected in str(err.value)


def test_subset_size_and_whole_run_steps():
    assert subset_size(1200, Budget(120)) == 120 and subset_size(52002, Budget(0.05)) == 2600
    with pytest.raises(BudgetError, match=r"budget 0\.05 of 10 records gives 0 records"):
        subset_size(10, Budget(0.05))
    assert total_steps(120, 2, 2, 1) == 120 and total_steps(2600, 3, 1, 32) == 3 * 81
    assert total_steps(3, 2, 4, 8) == 2      # at least one step per epoch
    # 2 processes: 120 rows in 60 batches of 2, 30 per process: 30 steps per epoch
    assert total_steps(120, 2, 2, 1, world_size=2) == 60
    assert total_steps(9, 1, 2, 1, world_size=2) == 3   # 5 batches: 3 for process 0


def test_overrides_keep_one_row_per_record_and_set_the_whole_run():
    train = train_block(sequence_len=512, seed=42, micro_batch_size=2)
    o = iterit_overrides(METHOD, train, pool="p.jsonl", m=120, out_dir="w/iterit")
    assert o["plugins"] == ["workflow_lib.axolotl_plugin.iterit.IterITPlugin"]
    assert o["max_steps"] == 120 and o["num_epochs"] == 2
    assert (o["sample_packing"], o["shuffle_merged_datasets"], o["excess_length_strategy"]) == (
        False, False, "truncate")
    assert o["iterit"] == {"pool": "p.jsonl", "m": 120, "strategy": "iterative",
                           "update_ratio": 3, "score_type": "BOTH",
                           "diversity_weight_decay": 0.1, "score_batch_size": 8,
                           "score_precision": "bf16", "max_length": 512, "seed": 42,
                           "out_dir": "w/iterit", "initial_scores": None}


def test_spans_cover_the_response_and_end_of_turn(tiny):
    from transformers import AutoTokenizer

    _, model_dir, records = tiny
    tok = AutoTokenizer.from_pretrained(model_dir)
    record = {**records[0], "conversations": [
        {"from": "human", "value": "Spell it"}, {"from": "gpt", "value": "d"}]}
    texts = scoring_texts(tok, record)
    assert "You are a helpful assistant." in texts.whole
    cond, prior = span_items(tok, texts, 128)
    # the output "d" is found where the template puts it, not in a later "<|im_end|>"
    assert tok.decode(cond.input_ids[cond.start:cond.end]).startswith("d")
    assert cond.end - cond.start == prior.end - prior.start == len(cond.input_ids) - cond.start
    assert tok.decode(prior.input_ids[prior.start:prior.end]) == tok.decode(
        cond.input_ids[cond.start:cond.end])
    assert span_items(tok, texts, cond.start) is None        # truncated away: no span
    assert ifd_from_losses(1.0, 2.0) == pytest.approx(math.exp(-1))
    assert ifd_from_losses(1.0, 0.0) == 0.0 and math.isnan(ifd_from_losses(math.nan, 1.0))


def test_rounding_to_the_score_precision():
    import numpy as np

    assert round_scores(np.array([0.123456]), "bf16")[0] == 253 / 2048    # nearest bf16
    assert round_scores(np.array([0.123456]), "fp32")[0] == np.float32(0.123456)


def iterit_scorer(config_path=ROOT / "config.yaml", max_length: int = 128) -> dict:
    """The demo's implicit IterIT scorer, at `max_length`."""
    config = validate_config(yaml.safe_load(config_path.read_text()))
    scorers = all_scorers(config)
    assert "smollm2-135m" in {s["model"] for s in scorers.values() if s["preset"] == "iterit"}
    return {**scorers["iterit-smollm2-135m"], "max_length": max_length, "rules": "t"}


def test_the_iterit_preset_scores_shards_as_training_does(tiny, tmp_path):
    """Epoch-0 scores in two resumable shards (the scoring layer's format) equal the scores the
    plugin computes in training, and a schedule reading them starts from them."""
    import numpy as np
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pool, model_dir, records = tiny
    scorer = iterit_scorer()
    shards = [str(tmp_path / f"{k}-of-2.jsonl") for k in (1, 2)]
    for k, shard in enumerate(shards, 1):
        score_pool_shard(pool, shard, f"{k}-of-2", model_dir, scorer)
    gather_scores(shards, [r["id"] for r in records], tmp_path / "s.parquet")
    rows = [row for shard in shards for _, row in read_jsonl(shard)]
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    expected = ifd_scores(model, tokenizer, records, max_length=128, batch_size=8,
                          precision="fp32")
    got = np.array([np.nan if r["ifd"] is None else r["ifd"] for r in rows], dtype=np.float32)
    assert np.allclose(got, expected, rtol=1e-5, equal_nan=True)
    assert all((r["reason"] is None) == (r["ifd"] is not None) for r in rows)
    s = schedule(tiny, tmp_path / "epochs", "iterative", initial_scores=str(tmp_path / "s.parquet"))
    first = s.begin_epoch(0, None)       # read, not scored: no model needed
    assert first["scoring_s"] < 1 and first["count"] == 40
    by_id = {r["id"]: r["ifd"] for r in rows}
    assert sorted(first["score"], key=lambda x: -1 if x is None else x) == sorted(
        (None if x is None else float(round_scores(np.array([x]), "bf16")[0])
         for x in by_id.values()), key=lambda x: -1 if x is None else x)


def schedule(tiny, out_dir, strategy, initial_scores=None):
    from transformers import AutoTokenizer

    _, model_dir, records = tiny
    settings = IterITSettings(m=8, strategy=strategy, update_ratio=3, score_type="BOTH",
                              diversity_weight_decay=0.1, score_batch_size=8,
                              score_precision="bf16", max_length=128, seed=42,
                              out_dir=str(out_dir), initial_scores=initial_scores)
    return IterITSchedule(settings, records, AutoTokenizer.from_pretrained(model_dir))


@pytest.mark.parametrize("strategy", ["iterative", "baseline"])
def test_schedule_rescores_the_window_only_when_iterative(tiny, tmp_path, strategy):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny[1])
    s = schedule(tiny, tmp_path, strategy)
    first = s.begin_epoch(0, model)
    assert first["count"] == 40 and len(first["selected"]) == 8
    assert sorted(list(s.sampler)) == sorted(first["selected"])
    s.end_epoch(0)
    with torch.no_grad():    # stands in for an epoch of training: the weights move
        gen = torch.Generator().manual_seed(0)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    second = s.begin_epoch(1, model)
    if strategy == "iterative":
        assert second["count"] == 24 and second["scoring_s"] > 0
        assert set(second["selected"]) != set(first["selected"])
        assert set(second["index"][:24]) == set(first["index"][:24])   # the window moved within
    else:
        assert second["count"] == 0 and second["scoring_s"] == 0
        assert second["selected"] == first["selected"]
    drawn = list(s.sampler)
    s.end_epoch(1)
    saved = json.loads((tmp_path / "epoch1.json").read_text())
    assert saved["trained_rows"] == drawn and saved["training_s"] >= 0
    # a restarted run reads the epoch's file instead of scoring again (no model needed)
    again = schedule(tiny, tmp_path, strategy)
    assert again.begin_epoch(1, None)["selected"] == second["selected"]
    assert list(again.sampler) == drawn


LR = 1e-2


def real_iterit_run(tiny, root, **train) -> dict:
    """One Axolotl run of 2 epochs × 4 steps (m = 8, global batch 2) with the plugin."""
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: `make tools` builds the Axolotl environment")
    pool, model_dir, _ = tiny
    return train_iterit(
        run="t", pool=pool, budget=Budget(8), method=METHOD, base_model=model_dir,
        train=train_block(sequence_len=128, learning_rate=LR, lr_scheduler="cosine", **train),
        out_dir=str(root / "out"), work_dir=str(root / "work"),
        tools_python=str(TOOLS_PYTHON), offline=True, threads=2, log_path="test.log")


@pytest.fixture(scope="module")
def one_process_run(tiny, tmp_path_factory):
    """(manifest, run folder) of the 1-process run (micro-batch 2)."""
    root = tmp_path_factory.mktemp("iterit_run")
    return real_iterit_run(tiny, root), root


def epoch_files(out) -> list[dict]:
    return [json.loads((out / "iterit" / f"epoch{e}.json").read_text()) for e in (0, 1)]


@pytest.mark.slow
def test_real_axolotl_run_changes_the_subset_and_keeps_one_lr_schedule(tiny, one_process_run):
    """~60 s: one Axolotl run of 2 epochs × 4 steps (m = 8, batch 2) with the plugin."""
    _, model_dir, _ = tiny
    manifest, root = one_process_run
    out = root / "out"
    assert (out / "model.safetensors").is_file() and not (root / "work").exists()
    epochs = epoch_files(out)
    assert [e["count"] for e in epochs] == [40, 24]
    assert [e["scored_by_rank"] for e in epochs] == [[40], [24]]
    for e in epochs:     # the Trainer drew exactly the epoch's subset
        assert sorted(e["trained_rows"]) == sorted(e["selected"]) and len(e["selected"]) == 8
    assert set(epochs[0]["selected"]) != set(epochs[1]["selected"])
    assert manifest["base_model"] == model_identity(model_dir)
    assert manifest["model_fingerprint"] == model_fingerprint(out) != model_fingerprint(model_dir)
    info = manifest["iterit"]
    assert info["m"] == 8 and info["max_steps"] == 8
    assert [e["epoch"] for e in info["epochs"]] == [0, 1]
    assert all(e["scoring_s"] > 0 and e["training_s"] > 0 for e in info["epochs"])
    # one cosine schedule over all 8 steps (warmup rounds to 0), not restarted at epoch 1
    expected = [LR * 0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]
    assert info["learning_rates"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "deepspeed_zero1", "deepspeed_zero2"])
def test_two_processes_train_on_the_same_subsets_and_share_the_scoring(tiny, one_process_run,
                                                                       tmp_path, summary,
                                                                       strategy):
    """~90 s each: the run above with 2 processes of micro-batch 1 (the same global batch 2)
    under each strategy IterIT allows: each epoch selects the same records, every record of the
    window is scored by exactly one process, and process 0 alone writes the files."""
    one, one_root = one_process_run
    two = real_iterit_run(tiny, tmp_path, micro_batch_size=1,
                          distributed={"gpus_per_node": 2, "strategy": strategy})
    assert two["batch"]["world_size"] == 2 and two["batch"]["global_batch_size"] == 2
    assert two["batch"]["strategy"] == strategy
    assert two["iterit"]["max_steps"] == one["iterit"]["max_steps"] == 8
    single, double = epoch_files(one_root / "out"), epoch_files(tmp_path / "out")
    for a, b in zip(single, double, strict=True):
        assert b["selected"] == a["selected"] and b["index"] == a["index"]
        assert sorted(b["trained_rows"]) == sorted(b["selected"])   # the epoch's m rows
    assert [e["scored_by_rank"] for e in double] == [[20, 20], [12, 12]]   # 40 and 24 once
    assert [e["scored_by_rank"] for e in two["iterit"]["epochs"]] == [[20, 20], [12, 12]]
    assert sorted(p.name for p in (tmp_path / "out" / "iterit").iterdir()) == [
        "epoch0.json", "epoch1.json", "log_history.json"]
    summary.append(f"IterIT with 2 processes ({strategy}): selected subsets per epoch equal the "
                   "1-process run's; records scored per process [[20, 20], [12, 12]] (40 and 24 "
                   "in all)")
