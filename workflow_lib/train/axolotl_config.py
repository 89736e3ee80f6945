"""The Axolotl (0.19) YAML of one fine-tuning run, rendered from the config's `train` block.

Canonical records are trained with Axolotl's `chat_template` dataset type and
`train.chat_template` (by default the base model's own), on the assistant turns only. Checkpoints
go to `output_dir` and a restarted run resumes from the newest one
(`auto_resume_from_checkpoints`). `gradient_accumulation_steps` is the validated config's (derived
from `global_batch_size` where a recipe states it), and the strategy of `train.distributed` adds
its FSDP or DeepSpeed keys (`distributed.py`).
"""

from __future__ import annotations

import os

import yaml

from workflow_lib.core.jsonio import atomic_output
from workflow_lib.train.distributed import distributed_settings

# Required on CPU: unset bf16/fp16 makes Axolotl switch fp16 on, and the LoRA kernels are CUDA-only.
CPU_SETTINGS = {
    "bf16": False,
    "fp16": False,
    "tf32": False,
    "attn_implementation": "sdpa",
    "dataloader_num_workers": 0,
    "lora_mlp_kernel": False,
    "lora_qkv_kernel": False,
    "lora_o_kernel": False,
    "lora_embedding_kernel": False,
}
GPU_SETTINGS = {"bf16": "auto", "attn_implementation": "flash_attention_2"}

SAVE_TOTAL_LIMIT = 1  # the newest checkpoint is all a restart needs (the Trainer deletes the
                      # older one only after the newer one is written)


def chat_dataset(path: str) -> dict:
    """Axolotl dataset entry for a canonical JSONL file (ShareGPT from/value turns)."""
    return {
        "path": path,
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
        "roles": {"system": ["system"], "user": ["human"], "assistant": ["gpt"]},
        "roles_to_train": ["assistant"],
        "train_on_eos": "turn",
    }


def render_axolotl_config(train: dict, *, base_model: str, dataset: str, output_dir: str,
                          prepared_dir: str) -> dict:
    """Axolotl config for one run. `train` is the validated `train` block (defaults filled in);
    the paths are written as given. Keys of `train["extra"]` override the rendered ones."""
    cfg = {
        "base_model": base_model,
        "chat_template": train["chat_template"],
        "datasets": [chat_dataset(dataset)],
        "dataset_prepared_path": prepared_dir,
        "val_set_size": 0,
        "output_dir": output_dir,
        "sequence_len": train["sequence_len"],
        "sample_packing": train["sample_packing"],
        "pad_to_sequence_len": train["sample_packing"],
        "num_epochs": train["num_epochs"],
        "micro_batch_size": train["micro_batch_size"],
        "gradient_accumulation_steps": train["gradient_accumulation_steps"],
        "optimizer": train["optimizer"],
        "learning_rate": train["learning_rate"],
        "lr_scheduler": train["lr_scheduler"],
        "warmup_ratio": train["warmup_ratio"],
        "weight_decay": train["weight_decay"],
        "seed": train["seed"],
        "logging_steps": 1,  # every step's loss: the manifest's first-epoch loss is exact
        **checkpointing(train["save_steps"]),
        **adapter_settings(train),
        **(CPU_SETTINGS if train["device"] == "cpu" else GPU_SETTINGS),
        **distributed_settings(train),
    }
    return {**cfg, **train["extra"]}


def checkpointing(save_steps: int | None) -> dict:
    """Checkpoint every `save_steps` steps (None: every epoch) and resume from the newest."""
    steps = {"save_strategy": "steps", "save_steps": save_steps} if save_steps else {
        "save_strategy": "epoch"}
    return {**steps, "save_total_limit": SAVE_TOTAL_LIMIT, "save_safetensors": True,
            "auto_resume_from_checkpoints": True}


def adapter_settings(train: dict) -> dict:
    """LoRA on every linear layer, or nothing for a full fine-tune."""
    if train["adapter"] == "full":
        return {}
    lora = train["lora"]
    return {"adapter": "lora", "lora_r": lora["r"], "lora_alpha": lora["alpha"],
            "lora_dropout": lora["dropout"], "lora_target_linear": True}


def write_axolotl_config(path: str | os.PathLike, cfg: dict) -> str:
    """Write `cfg` as YAML (keys in rendered order), atomically; returns the text written."""
    text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
    with atomic_output(path) as fh:
        fh.write(text)
    return text
