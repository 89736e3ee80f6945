"""Tiny, real causal LMs built locally (no download) for tests and offline demos.

`build_tiny_model` trains a byte-level BPE tokenizer on the given texts, wraps it as a standard
`PreTrainedTokenizerFast` with a ChatML chat template, initialises a small Llama or GPT-2 model
from a seed and saves both as an ordinary Hugging Face folder that `AutoTokenizer` /
`AutoModelForCausalLM` (and hence Axolotl or lm-eval) load like any hub model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

BOS, IM_START, IM_END, PAD = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"
SPECIAL_TOKENS = (BOS, IM_START, IM_END, PAD)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

Arch = Literal["llama", "gpt2"]

_WORDS = ("the", "of", "and", "to", "in", "is", "you", "that", "it", "was", "for", "on", "as")
_EXTRA = ("naïve café — 世界 🙂 ∂x", "def f(x):\n    return x + 1\n")


def synthetic_texts(n_docs: int = 24, seed: int = 0) -> list[str]:
    """Deterministic word-salad documents plus one non-ASCII and one code document."""
    rng = random.Random(seed)
    docs = [" ".join(rng.choices(_WORDS, k=rng.randint(3, 30))) for _ in range(n_docs)]
    return [*docs, *_EXTRA]


def train_tokenizer(
    texts: Sequence[str], *, vocab_size: int = 512, add_bos: bool = False
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `texts` (special tokens get ids 0..3).

    With `add_bos`, `encode` prepends `<|endoftext|>` to every sequence, like Llama tokenizers.
    """
    n_base = len(pre_tokenizers.ByteLevel.alphabet()) + len(SPECIAL_TOKENS)
    if vocab_size < n_base:
        raise ValueError(f"vocab_size must be at least {n_base} (bytes + special tokens)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    byte_level = processors.ByteLevel(trim_offsets=False)
    if add_bos:
        bos_id = tok.token_to_id(BOS)
        template = processors.TemplateProcessing(
            single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B:1", special_tokens=[(BOS, bos_id)]
        )
        tok.post_processor = processors.Sequence([byte_level, template])
    else:
        tok.post_processor = byte_level
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=PAD,
        chat_template=CHATML_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )


def tiny_config(
    arch: Arch,
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 2048,
    init_std: float = 0.02,
) -> PretrainedConfig:
    """A standard Llama or GPT-2 config of the given size, with the tokenizer's special ids."""
    ids = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "initializer_range": init_std,
    }
    if arch == "llama":
        return LlamaConfig(
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_heads,
            max_position_embeddings=max_positions,
            **ids,
        )
    if arch == "gpt2":
        return GPT2Config(
            n_embd=hidden_size,
            n_layer=num_layers,
            n_head=num_heads,
            n_positions=max_positions,
            **ids,
        )
    raise ValueError(f"unknown arch {arch!r}; expected 'llama' or 'gpt2'")


def init_model(config: PretrainedConfig, seed: int) -> PreTrainedModel:
    """Randomly initialise a causal LM from `config`, seeded, without touching the global RNG."""
    model_cls = LlamaForCausalLM if isinstance(config, LlamaConfig) else GPT2LMHeadModel
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_cls(config).eval()


def build_tiny_model(
    out_dir: str | Path,
    texts: Sequence[str],
    arch: Arch = "llama",
    *,
    seed: int = 0,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 2048,
    init_std: float = 0.02,
    add_bos: bool = False,
) -> Path:
    """Train a tokenizer on `texts`, initialise a tiny `arch` model and save both to `out_dir`.

    Deterministic for equal arguments. `init_std` > 0.02 gives sharper, more context-dependent
    predictions (useful when a test must tell contexts apart). Returns `out_dir` as a Path.
    """
    out = Path(out_dir)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size, add_bos=add_bos)
    config = tiny_config(
        arch,
        tokenizer,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        max_positions=max_positions,
        init_std=init_std,
    )
    tokenizer.model_max_length = max_positions
    model = init_model(config, seed)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    save_tokenizer(tokenizer, out)
    return out


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """Save so that transformers 4.x loads it too: template inside tokenizer_config.json and
    the class named `PreTrainedTokenizerFast` (5.x would write its new name `TokenizersBackend`).
    """
    tokenizer.save_pretrained(out_dir, save_jinja_files=False)
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(
        json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
