"""Loading a model folder: the tokenizer, and the model in a dtype, on a device (or spread over
GPUs by a device map), in eval mode.

Every stage that runs a model (IFD scoring, IterIT's epoch-0 scores, BPC, MT-bench answers,
model preparation, sentence embeddings) loads it here. Nothing else is changed: the attention
implementation is transformers' default for the architecture, the tokenizer's padding side its
own unless asked for.
"""

from __future__ import annotations

import os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from workflow_lib.core.errors import UserError

ModelDir = str | os.PathLike


def load_tokenizer(model_dir: ModelDir, *, padding_side: str | None = None,
                   pad_with_eos: bool = False):
    """The folder's tokenizer; with `padding_side` ("left" for generation) padding there; with
    `pad_with_eos`, a tokenizer without a pad token pads with its eos token (UserError if it
    has neither)."""
    extra = {"padding_side": padding_side} if padding_side else {}
    tokenizer = AutoTokenizer.from_pretrained(model_dir, **extra)
    if pad_with_eos and tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise UserError(f"{model_dir}: the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_dir: ModelDir, *, dtype: str | None = "float32", device: str = "cpu",
               device_map: str | None = None, auto_class=AutoModelForCausalLM) -> PreTrainedModel:
    """The folder's model as `auto_class` (a causal LM unless told) in `dtype` ("float32",
    "bfloat16", ...; None: transformers' default, the dtype it was saved in), in eval mode:
    on `device`, or with `device_map="auto"` spread by Accelerate over the visible GPUs (all on
    the CPU when `device` is "cpu"). A GPU model that does not fit the GPUs is a UserError,
    never offloaded to the CPU or disk."""
    extra = {"dtype": getattr(torch, dtype)} if dtype else {}
    if device_map is None:
        return auto_class.from_pretrained(model_dir, **extra).to(device).eval()
    model = auto_class.from_pretrained(model_dir, device_map=device_map, **extra).eval()
    # Offloaded parameters sit on the meta device, and the map says where they live.
    placed = {p.device.type for p in model.parameters()}
    placed |= {str(d) for d in getattr(model, "hf_device_map", {}).values()}
    offloaded = sorted(placed & {"cpu", "disk"})
    if torch.device(device).type != "cpu" and offloaded:
        gpus = torch.cuda.device_count()
        why = f"does not fit the job's {gpus} GPU(s)" if gpus else "sees no GPU"
        raise UserError(f"{model_dir}: the job {why}; Accelerate put layers on "
                        f"{' and '.join(offloaded)} (ask for more GPUs: eval.inference.gpus)")
    return model


def input_device(model: PreTrainedModel) -> torch.device:
    """Where a model's inputs go: its input embeddings' device (the first GPU of a device map)."""
    return model.get_input_embeddings().weight.device


def load_causal_lm(model_dir: ModelDir, *, dtype: str | None = "float32", device: str = "cpu",
                   device_map: str | None = None, padding_side: str | None = None,
                   pad_with_eos: bool = False):
    """(model, tokenizer) of a causal LM folder (`load_model`, `load_tokenizer`)."""
    tokenizer = load_tokenizer(model_dir, padding_side=padding_side, pad_with_eos=pad_with_eos)
    return load_model(model_dir, dtype=dtype, device=device, device_map=device_map), tokenizer
