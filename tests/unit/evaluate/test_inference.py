"""eval.inference: the settings every evaluator gets (CPU defaults as before the block existed),
their validation, lm-eval's command line, and the loaders with a device map (on the CPU here:
the same numbers as without one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from tests.support import ROOT, load_config
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError, UserError
from workflow_lib.evaluate.bpc import model_bpc
from workflow_lib.evaluate.inference import eval_gpus, inference_settings, resolve_dtype
from workflow_lib.evaluate.lmeval.run import lmeval_command
from workflow_lib.evaluate.mtbench.answers import generate_answers
from workflow_lib.evaluate.mtbench.demo import write_demo_data
from workflow_lib.evaluate.mtbench.questions import load_questions
from workflow_lib.evaluate.pairwise import answers as pairwise
from workflow_lib.evaluate.pairwise.testsets import Question
from workflow_lib.models.loading import input_device, load_model
from workflow_lib.models.tiny import build_tiny_model, synthetic_texts


def tiny_config() -> dict:
    """The tiny test config without its BPC corpus (defined by the workflow tests)."""
    config = load_config("tiny")
    config["eval"]["bpc"]["corpora"] = []
    return config


def config_with(train_device: str = "cpu", **inference) -> dict:
    config = tiny_config()
    config["train"]["device"] = train_device
    config["eval"]["inference"] = inference
    return validate_config(config)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("inference") / "tiny", synthetic_texts(),
                            init_std=0.3)


def test_cpu_defaults_are_float32_on_one_device_without_gpus():
    config = config_with()
    assert config["eval"]["inference"] == {"dtype": "auto", "device_map": None, "gpus": 1}
    assert inference_settings(config) == {"device": "cpu", "dtype": "float32",
                                          "device_map": None}
    assert eval_gpus(config) == 0
    demo = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert inference_settings(demo, demo["eval"]["bpc"]["dtype"])["dtype"] == "float32"


def test_gpu_settings_and_evaluator_overrides():
    config = config_with("gpu", device_map="auto", gpus=4)
    assert inference_settings(config) == {"device": "cuda", "dtype": "bfloat16",
                                          "device_map": "auto"}
    assert inference_settings(config, "float32")["dtype"] == "float32"  # eval.bpc.dtype, ...
    assert eval_gpus(config) == 4
    assert inference_settings(config_with("gpu", dtype="float16"))["dtype"] == "float16"
    assert resolve_dtype("auto", "cpu") == "float32"
    with pytest.raises(ValueError, match="int8"):
        resolve_dtype("int8", "cuda")


def test_lmeval_command_on_cpu_is_unchanged_by_the_defaults():
    settings = inference_settings(config_with())
    assert lmeval_command("py", "m", "t", ["a"], "o", **settings, batch_size=8) == [
        "py", "-m", "lm_eval", "run", "--model", "hf",
        "--model_args", f"pretrained={Path('m').resolve()},dtype=float32",
        "--include_path", str(Path("t").resolve()), "--tasks", "a", "--device", "cpu",
        "--batch_size", "8", "--output_path", str(Path("o").resolve()), "--log_samples",
        "--apply_chat_template"]


def test_lmeval_command_spreads_a_bf16_model_over_the_gpus_with_the_configured_batch():
    config = config_with("gpu", device_map="auto", gpus=2)
    config["eval"]["lmeval"]["batch_size"] = "auto"
    validate_config(config)
    cmd = lmeval_command("py", "m", "t", ["a"], "o", **inference_settings(config),
                         batch_size=config["eval"]["lmeval"]["batch_size"])
    args = cmd[cmd.index("--model_args") + 1].split(",")
    assert args[1:] == ["dtype=bfloat16", "parallelize=True"]
    assert cmd[cmd.index("--batch_size") + 1] == "auto"
    assert cmd[cmd.index("--device") + 1] == "cuda"
    with pytest.raises(ValueError, match="balanced"):
        lmeval_command("py", "m", "t", ["a"], "o", device="cuda", device_map="balanced")


@pytest.mark.parametrize("train_device, inference, expected", [
    ("cpu", {"device_map": "auto"}, r"eval\.inference\.device_map: 'auto' spreads .* train\."
                                    r"device is cpu"),
    ("gpu", {"gpus": 2}, r"eval\.inference\.gpus: 2 GPUs per job, but without a device map"),
    ("cpu", {"gpus": 2}, r"eval\.inference\.gpus: 2 GPUs"),
    ("gpu", {"dtype": "int8"}, r"eval\.inference\.dtype: 'int8' is not one of"),
    ("gpu", {"device_map": "balanced"}, r"eval\.inference\.device_map: 'balanced' is not one of"),
    ("gpu", {"gpus": 0}, r"eval\.inference\.gpus: 0 is less than the minimum of 1"),
    ("gpu", {"batch": 8}, r"eval\.inference: unknown key 'batch'"),
])
def test_invalid_inference_settings_are_named(train_device, inference, expected):
    with pytest.raises(ConfigError, match=expected):
        config_with(train_device, **inference)


def test_bfloat16_on_the_cpu_is_a_valid_choice_and_lmeval_batch_size_is_checked():
    """bfloat16 on the CPU is slow but exact to what it says (torch runs it), so it is allowed."""
    assert inference_settings(config_with(dtype="bfloat16"))["dtype"] == "bfloat16"
    config = tiny_config()
    config["eval"]["lmeval"]["batch_size"] = "large"
    with pytest.raises(ConfigError, match=r"eval\.lmeval\.batch_size"):
        validate_config(config)


def test_device_map_loads_the_same_model_and_inputs_follow_its_embeddings(tiny):
    plain, mapped = load_model(tiny), load_model(tiny, device_map="auto")
    assert not mapped.training and input_device(mapped) == torch.device("cpu")
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    assert torch.equal(plain(ids).logits, mapped(ids).logits)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_gpu_model_placed_on_the_cpu_is_an_error_not_an_offload(tiny):
    with pytest.raises(UserError, match=r"sees no GPU; Accelerate put layers on cpu"):
        load_model(tiny, device="cuda", device_map="auto")


def test_answers_and_bpc_are_identical_with_a_device_map(tiny, tmp_path):
    questions = load_questions(write_demo_data(tmp_path / "mtbench") / "question.jsonl")[:3]
    runs = [generate_answers(tiny, questions, "r", max_new_tokens=6, batch_size=2,
                             device_map=device_map, threads=1, progress=False)
            for device_map in (None, "auto")]
    assert [r["choices"] for r in runs[0]] == [r["choices"] for r in runs[1]]
    asked = [Question("vicuna", str(i), f"Say {w}.", "") for i, w in enumerate(["a", "b"])]
    pair = [pairwise.generate_answers(tiny, asked, "r", max_length=40, device_map=device_map,
                                      threads=1, progress=False) for device_map in (None, "auto")]
    assert pair[0] == pair[1]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"content": t}) + "\n"
                              for t in synthetic_texts(n_docs=4, seed=3)))
    settings = {"block_size": 24, "stride": 8, "batch_size": 3, "threads": 1, "progress": False}
    assert model_bpc(tiny, corpus, **settings) == model_bpc(tiny, corpus, device_map="auto",
                                                            **settings)
