"""Multi-process training: the global batch, the strategy's Axolotl keys (validated by Axolotl
itself), the launcher command lines, and the checks made before a strategy is launched. The real
runs of every strategy are in test_strategy_runs.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, TOOLS_PYTHON, train_block
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError, UserError
from workflow_lib.train import axolotl_run as training
from workflow_lib.train.axolotl_config import render_axolotl_config, write_axolotl_config
from workflow_lib.train.distributed import (
    block_classes,
    check_strategy,
    deepspeed_config,
    launcher_command,
)

STRATEGIES = ("ddp", "fsdp", "deepspeed_zero1", "deepspeed_zero2", "deepspeed_zero3")


def test_gradient_accumulation_is_derived_from_the_global_batch():
    train = train_block(global_batch_size=128, micro_batch_size=4,
                        distributed={"gpus_per_node": 4})
    assert (train["gradient_accumulation_steps"], train["global_batch_size"]) == (8, 128)
    moved = train_block(global_batch_size=128, micro_batch_size=4,
                        distributed={"gpus_per_node": 8})
    assert moved["gradient_accumulation_steps"] == 4       # 8 GPUs keep the paper's 128
    plain = train_block(micro_batch_size=2, gradient_accumulation_steps=3,
                        distributed={"nodes": 2, "gpus_per_node": 2})
    assert plain["global_batch_size"] == 2 * 3 * 4
    assert train_block()["gradient_accumulation_steps"] == 1


@pytest.mark.parametrize(("train", "message"), [
    ({"global_batch_size": 128, "micro_batch_size": 4, "distributed": {"gpus_per_node": 3}},
     "train.global_batch_size: 128 is not a multiple of micro_batch_size × world size = "
     "4 × 3 = 12"),
    ({"global_batch_size": 128, "micro_batch_size": 4, "gradient_accumulation_steps": 4,
      "distributed": {"gpus_per_node": 4}},
     "train.gradient_accumulation_steps: 4 contradicts global_batch_size 128"),
    ({"distributed": {"strategy": "zero3"}}, "train.distributed.strategy:"),
    ({"distributed": {"launcher": "mpirun"}}, "train.distributed.launcher:"),
])
def test_batch_and_distributed_problems_name_the_key(train, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        train_block(**train)


def test_iterit_refuses_strategies_that_shard_the_weights():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["train"]["distributed"] = {"gpus_per_node": 2, "strategy": "fsdp"}
    with pytest.raises(ConfigError, match=r"train\.distributed\.strategy: fsdp shards the param"):
        validate_config(config)


def render(strategy: str, device: str = "gpu", **more) -> dict:
    train = train_block(device=device, global_batch_size=16, micro_batch_size=2,
                        distributed={"gpus_per_node": 2, "strategy": strategy}, **more)
    return render_axolotl_config(train, base_model="m", dataset="d.jsonl", output_dir="o",
                                 prepared_dir="p")


def test_each_strategy_renders_its_axolotl_keys():
    assert not {"fsdp_config", "deepspeed", "max_memory"} & set(render("ddp"))
    fsdp = render("fsdp")
    assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_config"]["reshard_after_forward"] is True
    assert fsdp["fsdp_config"]["state_dict_type"] == "SHARDED_STATE_DICT"  # resumable shards
    for stage in (1, 2, 3):
        cfg = render(f"deepspeed_zero{stage}")
        assert cfg["deepspeed"] == str(deepspeed_config(stage))
        assert json.loads(Path(cfg["deepspeed"]).read_text())["zero_optimization"]["stage"] == stage
        assert cfg["gradient_accumulation_steps"] == 4
    # several CPU processes: each replica on the CPU, and resumable (axolotl_plugin)
    cpu = render("ddp", device="cpu")
    assert cpu["max_memory"] == {"cpu": "1024GiB"}
    assert cpu["plugins"] == ["workflow_lib.axolotl_plugin.cpu_processes.CPUProcessesPlugin"]


# Axolotl's own validator, with the capabilities of a 2-GPU bf16 node (what the rendered GPU
# config is for); prints one JSON line per file: the error, or the keys Axolotl kept.
AXOLOTL_VALIDATE = """
import json, sys, yaml
from axolotl.utils.config import validate_config
from axolotl.utils.dict import DictDefault
caps = {"bf16": True, "fp8": False, "tf32": True, "n_gpu": 2, "compute_capability": "sm_90"}
for path in sys.argv[1:]:
    try:
        cfg = validate_config(DictDefault(yaml.safe_load(open(path))), capabilities=caps,
                              env_capabilities={"torch_version": "2.13.0"})
        kept = {k: cfg.get(k) for k in ("chat_template", "deepspeed", "fsdp_version", "fsdp_config",
                                         "gradient_accumulation_steps", "micro_batch_size")}
        print(json.dumps({"path": path, "ok": True, "cfg": kept}, default=str))
    except Exception as err:
        print(json.dumps({"path": path, "ok": False, "error": f"{type(err).__name__}: {err}"}))
"""


# The recipes' pairs of strategy and chat template (superfiltering-alpaca, zip-deita), so that
# Axolotl also accepts the template names they set.
RECIPE_TEMPLATES = {"fsdp": "alpaca", "deepspeed_zero3": "chatml"}


@pytest.fixture(scope="module")
def axolotl_verdicts(tmp_path_factory) -> dict[str, dict]:
    """Axolotl's verdict on the rendered GPU config of each strategy (one tools process)."""
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: `make tools` builds the Axolotl environment")
    root = tmp_path_factory.mktemp("axolotl_validate")
    paths = []
    for strategy in STRATEGIES:
        template = RECIPE_TEMPLATES.get(strategy, "tokenizer_default")
        write_axolotl_config(root / f"{strategy}.yaml", render(strategy, chat_template=template))
        paths.append(str(root / f"{strategy}.yaml"))
    out = subprocess.run([str(TOOLS_PYTHON), "-c", AXOLOTL_VALIDATE, *paths],
                         env=training.axolotl_env(offline=True), capture_output=True, text=True,
                         timeout=300, check=True).stdout
    verdicts = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {Path(v["path"]).stem: v for v in verdicts}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rendered_strategy_passes_axolotls_validation(axolotl_verdicts, strategy):
    verdict = axolotl_verdicts[strategy]
    assert verdict["ok"], verdict["error"]
    cfg = verdict["cfg"]
    assert (cfg["gradient_accumulation_steps"], cfg["micro_batch_size"]) == (4, 2)
    assert cfg["chat_template"] == RECIPE_TEMPLATES.get(strategy, "tokenizer_default")
    if strategy == "fsdp":
        assert cfg["fsdp_version"] == 2 and cfg["fsdp_config"]["auto_wrap_policy"] == (
            "TRANSFORMER_BASED_WRAP")
    elif strategy.startswith("deepspeed"):
        assert cfg["deepspeed"].endswith(f"zero{strategy[-1]}.json")
    else:
        assert cfg["deepspeed"] is None and cfg["fsdp_config"] is None


def test_launchers_start_one_process_per_gpu_and_one_launcher_per_node(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "node01")
    one = train_block()
    assert launcher_command("py", one, "a.yaml") == ["py", "-m", "axolotl.cli.train", "a.yaml"]
    torchrun = train_block(distributed={"gpus_per_node": 4})
    assert launcher_command("py", torchrun, "a.yaml") == [
        "py", "-m", "torch.distributed.run", "--nproc_per_node", "4", "--standalone",
        "-m", "axolotl.cli.train", "a.yaml"]
    accelerate = train_block(device="gpu", distributed={"gpus_per_node": 4,
                                                        "launcher": "accelerate"})
    assert launcher_command("py", accelerate, "a.yaml") == [
        "py", "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "4",
        "--num_machines", "1", "-m", "axolotl.cli.train", "a.yaml"]
    nodes = train_block(device="gpu", distributed={"nodes": 2, "gpus_per_node": 8,
                                                   "rdzv_port": 29600})
    cmd = launcher_command("py", nodes, "a.yaml")
    assert cmd[:9] == ["srun", "--nodes", "2", "--ntasks", "2", "--ntasks-per-node", "1",
                       "--kill-on-bad-exit=1", "sh"]
    assert cmd[10] == ("exec py -m torch.distributed.run --nproc_per_node 8 --nnodes 2 "
                       "--rdzv_backend c10d --rdzv_endpoint node01:29600 --rdzv_id sieve "
                       "-m axolotl.cli.train a.yaml")
    nodes["distributed"]["launcher"] = "accelerate"
    script = launcher_command("py", nodes, "a.yaml")[10]
    assert "--multi_gpu --num_processes 16 --num_machines 2 --machine_rank $SLURM_NODEID " \
           "--main_process_ip node01 --main_process_port 29600" in script


# --- checks before a strategy is launched ------------------------------------------------------

def test_deepspeed_missing_from_the_tools_env_stops_before_launch(tmp_path):
    """One line naming the strategy and the fix; the launcher is never reached."""
    train = train_block(distributed={"gpus_per_node": 2, "strategy": "deepspeed_zero2"})
    with pytest.raises(UserError, match=r"^train\.distributed\.strategy: deepspeed_zero2 needs "
                       r"DeepSpeed, which the tools environment lacks: `make tools` installs"):
        check_strategy(train, "unused", {"axolotl": "0.19.0", "torch": "2.13.0"})
    check_strategy(train, "unused", {"deepspeed": "0.18.9"})


def test_fsdp_on_a_model_without_decoder_blocks_stops_before_launch(tmp_path):
    from transformers import LlamaConfig, OpenAIGPTConfig

    OpenAIGPTConfig(n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path / "gpt")
    LlamaConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2,
                intermediate_size=16).save_pretrained(tmp_path / "llama")
    train = train_block(distributed={"gpus_per_node": 2, "strategy": "fsdp"})
    with pytest.raises(UserError, match=r"^train\.distributed\.strategy: fsdp wraps each decoder "
                       r"block \(TRANSFORMER_BASED_WRAP\), but the model class of .*gpt names "
                       r"none \(`_no_split_modules`\): use ddp or a deepspeed_zero\* strategy$"):
        check_strategy(train, str(tmp_path / "gpt"), {})
    assert block_classes(str(tmp_path / "llama")) == ["LlamaDecoderLayer"]
    check_strategy(train, str(tmp_path / "llama"), {})
