"""The model loader: tokenizer and model of a folder, in the dtype, on the device, in eval mode;
left padding and the eos pad fallback only when asked for."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM

from workflow_lib.core.errors import UserError
from workflow_lib.models.loading import load_causal_lm, load_model, load_tokenizer
from workflow_lib.models.tiny import IM_END, PAD, build_tiny_model, synthetic_texts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("loading") / "tiny", synthetic_texts())


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_causal_lm_is_loaded_in_the_dtype_on_the_device_in_eval_mode(tiny, dtype):
    model, tokenizer = load_causal_lm(tiny, dtype=dtype, device="cpu")
    assert isinstance(model, AutoModelForCausalLM._model_mapping[type(model.config)])
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {getattr(torch, dtype)}
    assert {p.device for p in model.parameters()} == {torch.device("cpu")}
    reference = AutoModelForCausalLM.from_pretrained(tiny, dtype=getattr(torch, dtype))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 reference.state_dict().values(), strict=True))
    assert tokenizer.padding_side == "right" and tokenizer.pad_token == PAD


def test_meta_device_is_honoured(tiny):
    model = load_model(tiny, device="meta")
    assert {p.device for p in model.parameters()} == {torch.device("meta")}


def test_no_dtype_keeps_the_saved_one_and_other_classes_load_too(tiny, tmp_path):
    folder = shutil.copytree(tiny, tmp_path / "bf16")
    load_model(tiny, dtype="bfloat16").save_pretrained(folder)
    assert next(load_model(folder, dtype=None).parameters()).dtype == torch.bfloat16
    base = load_model(tiny, auto_class=AutoModel)
    assert not hasattr(base, "lm_head") and not base.training


def test_left_padding_and_eos_as_pad_only_when_asked(tiny, tmp_path):
    assert load_tokenizer(tiny, padding_side="left").padding_side == "left"
    folder = shutil.copytree(tiny, tmp_path / "no-pad")
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("pad_token")
    config_path.write_text(json.dumps(config))
    assert load_tokenizer(folder).pad_token is None
    assert load_tokenizer(folder, pad_with_eos=True).pad_token == IM_END
    config.pop("eos_token")
    config_path.write_text(json.dumps(config))
    with pytest.raises(UserError, match="neither a pad nor an eos token"):
        load_tokenizer(folder, pad_with_eos=True)
