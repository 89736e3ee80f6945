"""Axolotl fine-tuning: the rendered config (CPU/GPU, LoRA/full, overrides, resume), the work
directory's resume rules, and real tiny runs with the tools interpreter (fresh and resumed)."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import TOOLS_PYTHON, train_block
from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.models.tiny import build_tiny_model
from workflow_lib.train import axolotl_run as training
from workflow_lib.train.axolotl_config import (
    CPU_SETTINGS,
    GPU_SETTINGS,
    render_axolotl_config,
    write_axolotl_config,
)
from workflow_lib.train.axolotl_run import prepare_work_dir, train_run, training_metrics

PATHS = {"base_model": "resources/models/m", "dataset": "results/selections/p/r/1/data.jsonl",
         "output_dir": "results/checkpoints/run/output",
         "prepared_dir": "results/checkpoints/run/prepared"}


def render(**train) -> dict:
    return render_axolotl_config(train_block(**train), **PATHS)


def test_cpu_variant_turns_off_mixed_precision_and_cuda_kernels():
    cfg = render()
    assert {k: cfg[k] for k in ("bf16", "fp16", "tf32")} == {"bf16": False, "fp16": False,
                                                             "tf32": False}
    assert all(cfg[f"lora_{k}_kernel"] is False for k in ("mlp", "qkv", "o", "embedding"))
    assert cfg["attn_implementation"] == "sdpa"
    assert "flash_attention" not in cfg and "deepspeed" not in cfg


def test_gpu_variant_uses_bf16_flash_attention_and_deepspeed():
    cfg = render(device="gpu", distributed={"gpus_per_node": 2, "strategy": "deepspeed_zero2"})
    assert cfg["bf16"] == "auto"
    assert cfg["attn_implementation"] == "flash_attention_2"
    assert cfg["deepspeed"].endswith("workflow_lib/train/deepspeed/zero2.json")
    cpu_only = set(CPU_SETTINGS) - set(GPU_SETTINGS)
    assert not cpu_only & set(cfg)


def test_dataset_trains_assistant_turns_of_canonical_records_with_the_model_template():
    cfg = render()
    assert cfg["chat_template"] == "tokenizer_default"
    assert render(chat_template="alpaca")["chat_template"] == "alpaca"
    assert cfg["datasets"] == [{
        "path": PATHS["dataset"], "ds_type": "json", "type": "chat_template",
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
        "roles": {"system": ["system"], "user": ["human"], "assistant": ["gpt"]},
        "roles_to_train": ["assistant"], "train_on_eos": "turn"}]
    assert cfg["val_set_size"] == 0
    assert cfg["base_model"] == PATHS["base_model"]
    assert cfg["output_dir"] == PATHS["output_dir"]
    assert cfg["dataset_prepared_path"] == PATHS["prepared_dir"]


def test_recipe_values_are_passed_through():
    cfg = render(sequence_len=256, num_epochs=2, learning_rate=1e-4, lr_scheduler="linear",
                 warmup_ratio=0.1, micro_batch_size=4, gradient_accumulation_steps=8,
                 optimizer="adamw_torch_fused", weight_decay=0.01, seed=7, sample_packing=False)
    assert {k: cfg[k] for k in ("sequence_len", "num_epochs", "learning_rate", "lr_scheduler",
                                "warmup_ratio", "micro_batch_size",
                                "gradient_accumulation_steps", "optimizer", "weight_decay",
                                "seed", "sample_packing", "pad_to_sequence_len")} == {
        "sequence_len": 256, "num_epochs": 2, "learning_rate": 1e-4, "lr_scheduler": "linear",
        "warmup_ratio": 0.1, "micro_batch_size": 4, "gradient_accumulation_steps": 8,
        "optimizer": "adamw_torch_fused", "weight_decay": 0.01, "seed": 7,
        "sample_packing": False, "pad_to_sequence_len": False}


def test_full_fine_tune_has_no_adapter_and_lora_targets_all_linear_layers():
    full = render()
    assert "adapter" not in full
    assert not [k for k in full if k.startswith("lora_") and not k.endswith("_kernel")]
    cfg = render(adapter="lora", lora={"r": 8, "alpha": 16, "dropout": 0.1})
    assert {k: cfg[k] for k in ("adapter", "lora_r", "lora_alpha", "lora_dropout",
                                "lora_target_linear")} == {
        "adapter": "lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.1,
        "lora_target_linear": True}


def test_checkpoints_every_epoch_or_every_n_steps_and_resume_automatically():
    epoch, steps = render(), render(save_steps=50)
    assert epoch["save_strategy"] == "epoch" and "save_steps" not in epoch
    assert (steps["save_strategy"], steps["save_steps"]) == ("steps", 50)
    for cfg in (epoch, steps):
        assert cfg["auto_resume_from_checkpoints"] is True
        assert cfg["save_total_limit"] == 1


def test_extra_keys_override_rendered_ones():
    cfg = render(extra={"bf16": True, "max_steps": 3, "gradient_checkpointing": True})
    assert (cfg["bf16"], cfg["max_steps"], cfg["gradient_checkpointing"]) == (True, 3, True)
    assert list(cfg)[-2:] == ["max_steps", "gradient_checkpointing"]


def test_written_yaml_reads_back_identically(tmp_path):
    cfg = render(adapter="lora")
    text = write_axolotl_config(tmp_path / "a" / "axolotl.yaml", cfg)
    assert yaml.safe_load((tmp_path / "a" / "axolotl.yaml").read_text()) == cfg
    assert text.startswith("base_model: ")


def checkpoint(work: Path, step: int, complete: bool = True) -> Path:
    path = work / "output" / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        (path / training.TRAINER_STATE).write_text("{}")
    return path


ONE = {"world_size": 1, "strategy": "ddp"}


def test_work_dir_is_kept_only_for_the_same_config_and_selection_with_a_checkpoint(tmp_path,
                                                                                   caplog):
    work = tmp_path / "w"
    assert not prepare_work_dir(work, "cfg", "sha", ONE)  # fresh
    assert not prepare_work_dir(work, "cfg", "sha", ONE)  # no checkpoint: nothing to resume
    checkpoint(work, 2)
    partial = checkpoint(work, 4, complete=False)
    assert prepare_work_dir(work, "cfg", "sha", ONE)
    assert not partial.exists() and (work / "output" / "checkpoint-2").is_dir()
    assert not prepare_work_dir(work, "cfg", "other selection", ONE)
    assert not (work / "output").exists()
    assert "afresh: its checkpoints (checkpoint-2) were made for another config" in caplog.text
    checkpoint(work, 2)
    assert not prepare_work_dir(work, "changed cfg", "other selection", ONE)


def test_sharded_checkpoint_of_another_layout_stops_the_job(tmp_path):
    """FSDP/DeepSpeed shards are per process: another world size cannot load them, so the job
    says so rather than starting afresh or loading them; DDP's whole checkpoints may move."""
    work = tmp_path / "w"
    fsdp2 = {"world_size": 2, "strategy": "fsdp"}
    prepare_work_dir(work, "cfg", "sha", fsdp2)
    checkpoint(work, 2)
    for other in ({"world_size": 4, "strategy": "fsdp"},
                  {"world_size": 2, "strategy": "deepspeed_zero3"}):
        with pytest.raises(UserError, match=re.escape(
                f"checkpoint-2 is sharded by 2 processes (fsdp); this run has "
                f"{other['world_size']} ({other['strategy']}) and cannot load it: set "
                f"train.distributed back to resume, or delete {work} to start afresh")):
            prepare_work_dir(work, "cfg with another accumulation", "sha", other)
    assert prepare_work_dir(work, "cfg", "sha", fsdp2)           # the same layout resumes
    ddp = tmp_path / "ddp"
    prepare_work_dir(ddp, "cfg", "sha", {"world_size": 2, "strategy": "ddp"})
    checkpoint(ddp, 2)
    assert not prepare_work_dir(ddp, "cfg 4", "sha", {"world_size": 4, "strategy": "ddp"})


def test_metrics_are_read_from_axolotl_output():
    lines = ["  0%|  | 0/2 [00:00<?, ?it/s]",
             " 50%|█ | 1/2 [00:01<00:01]    {'loss': '6.27', 'grad_norm': '3.8', 'epoch': '0.5'}",
             "{'loss': '5.9', 'tokens/trainable': 21, 'epoch': '1'}",
             "   {'train_runtime': '4.337', 'train_loss': '6.008', 'epoch': '1'}"]
    assert training_metrics(lines) == {"train_loss": 6.008, "train_runtime_s": 4.337,
                                       "logged_losses": [6.27, 5.9], "logged_epochs": [0.5, 1],
                                       "first_epoch_loss": pytest.approx((6.27 + 5.9) / 2),
                                       "resumed_at_step": None}
    # a resumed run: the checkpoint's steps first; the first epoch ends at epoch 1.0
    later = [" {'loss': '5.5', 'epoch': '1.5'}", "{'loss': '5.1', 'epoch': '2'}"]
    resumed = training_metrics(later, [{"loss": 6.27, "epoch": 0.5}, {"loss": 5.9, "epoch": 1.0}])
    assert resumed["logged_losses"] == [6.27, 5.9, 5.5, 5.1]
    assert resumed["first_epoch_loss"] == pytest.approx(6.085)
    assert resumed["resumed_at_step"] == 2
    assert training_metrics([lines[1], lines[1]])["logged_losses"] == [6.27]  # once per step
    alone = "[transformers] torch.distributed process group is initialized, but parallel_mode " \
            "!= ParallelMode.DISTRIBUTED. In order to use Torch DDP, launch your script with"
    with pytest.raises(UserError, match="did not form one data-parallel group"):
        training_metrics([alone, *lines])
    assert training_metrics([])["train_loss"] is None


def test_failing_axolotl_is_a_user_error_naming_the_log():
    with pytest.raises(UserError, match=r"status 1 \(last line: .*No module.*; full output in x"):
        training.run_axolotl(sys.executable, "no_such_module_xyz", [],
                             training.axolotl_env(offline=True), "x.log")


# --- real runs with the tools interpreter ---------------------------------------------------

RECORDS = [{"id": f"r{i}", "source": "t", "meta": {"i": i},
            "conversations": ([{"from": "system", "value": "Answer briefly."}] if i % 4 == 0
                              else []) + [
                {"from": "human", "value": f"What is {i} plus {i}?"},
                {"from": "gpt", "value": f"{i} plus {i} is {2 * i}."}]} for i in range(24)]


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory):
    """(selection JSONL, tiny llama folder) shared by the real runs."""
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: `make tools` builds the Axolotl environment")
    root = tmp_path_factory.mktemp("inputs")
    data = root / "data.jsonl"
    write_jsonl(data, RECORDS)
    texts = [turn["value"] for r in RECORDS for turn in r["conversations"]]
    return str(data), str(build_tiny_model(root / "tiny", texts))


def tiny_run(root: Path, data: str, model: str, **train) -> dict:
    """Train the tiny model into root/out, working in root/work."""
    return train_run(run="tiny", selection=data, base_model=model,
                     train=train_block(sequence_len=128, learning_rate=1e-3, **train),
                     out_dir=str(root / "out"), work_dir=str(root / "work"),
                     tools_python=str(TOOLS_PYTHON), offline=True, threads=2,
                     log_path="test.log")


def assert_loadable_model(out: Path, base_model: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 plus 2?"}],
                                           tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    model = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(base_model)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.inference_mode():
        assert math.isfinite(float(model(input_ids=ids, labels=ids).loss))
    changed = [name for name, p in model.state_dict().items()
               if not torch.equal(p, base.state_dict()[name])]
    assert changed, "training did not change any weight"


@pytest.mark.slow
def test_tiny_lora_run_is_merged_into_a_loadable_model(tiny_inputs, tmp_path):
    data, model = tiny_inputs
    manifest = tiny_run(tmp_path, data, model, adapter="lora", extra={"max_steps": 3})
    out = tmp_path / "out"
    assert {"model.safetensors", "config.json", "axolotl.yaml", "manifest.json"} <= {
        p.name for p in out.iterdir()}
    assert not (tmp_path / "work").exists()
    rendered = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert (rendered["adapter"], rendered["datasets"][0]["path"]) == ("lora", data)
    assert math.isfinite(manifest["metrics"]["train_loss"])
    assert len(manifest["metrics"]["logged_losses"]) == 3
    assert manifest["n_records"] == len(RECORDS)
    assert manifest["tools_environment"]["packages"]["axolotl"] == "0.19.0"
    assert json.loads((out / "manifest.json").read_text())["run"] == "tiny"
    assert_loadable_model(out, model)


@pytest.mark.slow
def test_restarted_run_resumes_from_its_checkpoint(tiny_inputs, tmp_path, monkeypatch, capsys):
    """The first attempt dies after its step-2 checkpoint; the retry trains steps 3-4 only."""
    data, model = tiny_inputs
    real_run = training.run_command

    def killed_after_step_2(cmd, env, log_path=None):
        real_run([*cmd, "--max_steps=2"], env, log_path)
        raise UserError("killed")

    monkeypatch.setattr(training, "run_command", killed_after_step_2)
    with pytest.raises(UserError, match="killed"):
        tiny_run(tmp_path, data, model, save_steps=2, extra={"max_steps": 4})
    assert (tmp_path / "work" / "output" / "checkpoint-2" / training.TRAINER_STATE).is_file()
    monkeypatch.setattr(training, "run_command", real_run)
    capsys.readouterr()

    manifest = tiny_run(tmp_path, data, model, save_steps=2, extra={"max_steps": 4})
    logged = capsys.readouterr().err
    assert re.search(r"resume from checkpoint at \S*work/output/checkpoint-2", logged)
    metrics = manifest["metrics"]   # steps 1-2 from the checkpoint's trainer state, 3-4 logged
    assert len(metrics["logged_losses"]) == 4 and metrics["resumed_at_step"] == 2
    assert metrics["first_epoch_loss"] == pytest.approx(
        sum(loss for loss, epoch in zip(metrics["logged_losses"], metrics["logged_epochs"],
                                        strict=True) if epoch <= 1) / sum(
            1 for epoch in metrics["logged_epochs"] if epoch <= 1))
    assert_loadable_model(tmp_path / "out", model)


def test_a_run_without_an_optimizer_step_fails(tiny_inputs, tmp_path, monkeypatch):
    """Axolotl ends a run that took no step (a global batch larger than the selection) with
    train_loss 0 and exit status 0: the job fails instead of saving the untrained model."""
    data, model = tiny_inputs
    summary = "{'train_runtime': '0.01', 'train_loss': '0.0', 'epoch': '0'}"
    monkeypatch.setattr(training, "run_command", lambda cmd, env, log_path=None: [summary])
    with pytest.raises(UserError, match=r"training tiny took no optimizer step \(no loss logged; "
                       r"Axolotl reports train_loss 0\.0\): the selection is smaller than one "
                       r"global batch of 2 sequences"):
        tiny_run(tmp_path, data, model)
    assert not (tmp_path / "out" / "model.safetensors").exists()
