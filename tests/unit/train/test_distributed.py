"""Multi-process training: the global batch, the strategy's Axolotl keys (validated by Axolotl
itself), the launcher command lines, and a real 2-process DDP run on CPU (gloo) that is killed
after a checkpoint, resumes, and matches a 1-process run with the same global batch."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from tests.support import ROOT, TOOLS_PYTHON, train_block
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError, UserError
from workflow_lib.core.jsonio import write_jsonl
from workflow_lib.models.tiny import build_tiny_model
from workflow_lib.train import axolotl_run as training
from workflow_lib.train.axolotl_config import render_axolotl_config, write_axolotl_config
from workflow_lib.train.distributed import deepspeed_config, launcher_command

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


# --- a real 2-process DDP run on CPU --------------------------------------------------------

RECORDS = [{"id": f"r{i}", "source": "t", "meta": {},
            "conversations": [{"from": "human", "value": f"What is {i} times 3?"},
                              {"from": "gpt", "value": f"{i} times 3 is {3 * i}."}]}
           for i in range(16)]
# Constant learning rate: the first attempt, stopped after step 2, leaves the optimizer state of
# step 2 of the full run (a schedule over max_steps would differ); sequential sampling: step k
# trains on records 4k..4k+3 in both runs (one process: 2 micro-batches of 2; two processes:
# one micro-batch of 2 each).
RECIPE = {"sequence_len": 128, "sample_packing": False, "learning_rate": 1e-3,
          "lr_scheduler": "constant", "warmup_ratio": 0.0, "micro_batch_size": 2,
          "global_batch_size": 4, "save_steps": 2,
          "extra": {"max_steps": 4, "logging_steps": 1, "curriculum_sampling": True}}


def step_tokens(lines: list[str]) -> list[int]:
    """The tokens of each logged step, from Axolotl's `tokens/total` (cumulative since the
    process started; a step printed twice counts once)."""
    totals = [int(m.group(1)) for line in lines
              if (m := re.search(r"'tokens/total': (\d+)", line))]
    totals = list(dict.fromkeys(totals))
    return [b - a for a, b in zip([0, *totals], totals, strict=False)]


def tiny_run(root: Path, data: str, model: str, name: str, **distributed) -> dict:
    return training.train_run(run=name, selection=data, base_model=model,
                              train=train_block(**RECIPE, distributed=distributed),
                              out_dir=str(root / name / "out"), work_dir=str(root / name / "work"),
                              tools_python=str(TOOLS_PYTHON), offline=True, threads=2,
                              log_path="test.log")


@pytest.mark.slow
def test_two_process_run_resumes_after_a_kill_and_matches_one_process(tmp_path, monkeypatch,
                                                                      capsys, summary):
    """~150 s: a 2-process DDP run stopped after its step-2 checkpoint, its rerun (steps 3-4),
    and a 1-process run with the same global batch (4 = 2 × 2 processes = 2 × 2 micro-batches)."""
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: `make tools` builds the Axolotl environment")
    data = tmp_path / "data.jsonl"
    write_jsonl(data, RECORDS)
    model = str(build_tiny_model(tmp_path / "tiny", [t["value"] for r in RECORDS
                                                     for t in r["conversations"]]))
    real_command, first = training.run_command, {}

    def killed_after_step_2(cmd, env, log_path=None):
        first["lines"] = real_command([*cmd, "--max_steps=2"], env, log_path)
        raise UserError("killed")

    monkeypatch.setattr(training, "run_command", killed_after_step_2)
    with pytest.raises(UserError, match="killed"):
        tiny_run(tmp_path, str(data), model, "ddp", gpus_per_node=2)
    checkpoint = tmp_path / "ddp" / "work" / "output" / "checkpoint-2"
    assert (checkpoint / training.TRAINER_STATE).is_file()
    monkeypatch.setattr(training, "run_command", real_command)
    capsys.readouterr()

    ddp = tiny_run(tmp_path, str(data), model, "ddp", gpus_per_node=2)
    logged = capsys.readouterr().err
    ddp_tokens = step_tokens(first["lines"]) + step_tokens(logged.splitlines())
    assert re.search(r"resume from checkpoint at \S*ddp/work/output/checkpoint-2", logged)
    assert ddp["batch"] == {"global_batch_size": 4, "micro_batch_size": 2,
                            "gradient_accumulation_steps": 1, "world_size": 2, "nodes": 1,
                            "gpus_per_node": 2, "strategy": "ddp", "launcher": "torchrun"}
    assert len(ddp["metrics"]["logged_losses"]) == 2            # steps 3 and 4 only
    single = tiny_run(tmp_path, str(data), model, "single")
    assert single["batch"]["gradient_accumulation_steps"] == 2
    # Both processes trained: Axolotl sums a step's tokens over the processes, and each DDP
    # step counts as many as the 1-process run's two micro-batches (four records).
    single_tokens = step_tokens(capsys.readouterr().err.splitlines())
    assert ddp_tokens == single_tokens and len(ddp_tokens) == 4

    two = training.training_metrics(first["lines"])["logged_losses"] + \
        ddp["metrics"]["logged_losses"]
    one = single["metrics"]["logged_losses"]
    diff = max(abs(a - b) for a, b in zip(two, one, strict=True))
    # Same records per step, same weights: the runs differ only in the order of float sums
    # (the all-reduce of two micro-batch gradients vs their accumulation in one process) and
    # Axolotl prints losses to 4 significant digits (±0.0005 at ~5.5); 2e-3 allows both over
    # 4 steps, while a step's update moves the loss by ~0.15 and a run in which each process
    # trains alone on a batch of 2 differs by ~0.04 from step 1 on (measured).
    assert diff < 2e-3, (two, one)
    # The weights after the 4 steps, compared exactly: equal in the measured runs; float32 sums
    # in another order could move them by ~1e-7, a run whose processes trained alone moves them
    # by ~5e-3 (measured).
    weights = [load_file(tmp_path / name / "out" / "model.safetensors") for name in ("ddp",
                                                                                    "single")]
    weight_diff = max(float((weights[0][k] - weights[1][k]).abs().max()) for k in weights[0])
    assert weight_diff < 1e-4
    summary.append(f"DDP on CPU: 2 processes vs 1 with global batch 4, step losses {two} vs "
                   f"{one} (max difference {diff:.4f}), final weights within {weight_diff:.1e}; "
                   "the 2-process run resumed from checkpoint-2")
