"""Tiny local causal LMs: standard HF folders, deterministic, usable by AutoModel/AutoTokenizer."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workflow_lib.models.tiny import (
    BOS,
    CHATML_TEMPLATE,
    IM_END,
    PAD,
    build_tiny_model,
    synthetic_texts,
)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Built models keyed by (arch, add_bos)."""
    root = tmp_path_factory.mktemp("tiny")
    return {
        (arch, bos): build_tiny_model(root / f"{arch}-{bos}", synthetic_texts(), arch, add_bos=bos)
        for arch in ("llama", "gpt2")
        for bos in (False, True)
    }


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_loads_as_standard_hf_folder(tiny, arch):
    path = tiny[arch, False]
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == arch
    assert model.config.vocab_size == len(tok) <= 512  # fewer merges on a small corpus
    assert model.config.hidden_size == 64
    assert model.config.num_hidden_layers == 2
    assert model.config.num_attention_heads == 4
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (BOS, IM_END, PAD)
    assert (model.config.eos_token_id, model.config.pad_token_id) == (
        tok.eos_token_id,
        tok.pad_token_id,
    )
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", IM_END, PAD]) == [0, 1, 2, 3]
    out = model.generate(**tok("the of", return_tensors="pt"), max_new_tokens=3, do_sample=False)
    assert out.shape == (1, len(tok("the of")["input_ids"]) + 3)


def test_tokenizer_config_is_portable(tiny):
    config = json.loads((tiny["llama", False] / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["chat_template"] == CHATML_TEMPLATE


def test_chat_template_is_chatml(tiny):
    tok = AutoTokenizer.from_pretrained(tiny["gpt2", False])
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    expected = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
    assert text == expected + "<|im_start|>assistant\n"


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_bos_only_when_asked(tiny, arch):
    text = "the of and"
    plain = AutoTokenizer.from_pretrained(tiny[arch, False])
    with_bos = AutoTokenizer.from_pretrained(tiny[arch, True])
    assert plain.encode(text)[0] != plain.bos_token_id
    assert with_bos.encode(text) == [with_bos.bos_token_id, *plain.encode(text)]
    assert with_bos.encode(text, add_special_tokens=False) == plain.encode(text)


def test_byte_level_round_trip(tiny):
    tok = AutoTokenizer.from_pretrained(tiny["llama", False])
    for text in ["naïve café — 世界 🙂", "  two  spaces\n\ttab", "unseen ЖЖЖ ∂x/∂t"]:
        assert tok.decode(tok.encode(text)) == text


def test_deterministic_and_seeded(tmp_path):
    texts = synthetic_texts()
    assert texts == synthetic_texts() != synthetic_texts(seed=1)
    state = torch.random.get_rng_state()
    a = build_tiny_model(tmp_path / "a", texts, "llama", seed=1)
    b = build_tiny_model(tmp_path / "b", texts, "llama", seed=1)
    c = build_tiny_model(tmp_path / "c", texts, "llama", seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "tokenizer.json").read_bytes() == (c / "tokenizer.json").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown arch"):
        build_tiny_model(tmp_path / "x", synthetic_texts(), "bert")
    with pytest.raises(ValueError, match="vocab_size"):
        build_tiny_model(tmp_path / "y", synthetic_texts(), vocab_size=100)
