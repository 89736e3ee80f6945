"""Loading a model folder: the tokenizer, and the model in a dtype, on a device, in eval mode.

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
               auto_class=AutoModelForCausalLM) -> PreTrainedModel:
    """The folder's model as `auto_class` (a causal LM unless told) in `dtype` ("float32",
    "bfloat16", ...; None: transformers' default, the dtype it was saved in), on `device`,
    in eval mode."""
    extra = {"dtype": getattr(torch, dtype)} if dtype else {}
    return auto_class.from_pretrained(model_dir, **extra).to(device).eval()


def load_causal_lm(model_dir: ModelDir, *, dtype: str | None = "float32", device: str = "cpu",
                   padding_side: str | None = None, pad_with_eos: bool = False):
    """(model, tokenizer) of a causal LM folder (`load_model`, `load_tokenizer`)."""
    tokenizer = load_tokenizer(model_dir, padding_side=padding_side, pad_with_eos=pad_with_eos)
    return load_model(model_dir, dtype=dtype, device=device), tokenizer
