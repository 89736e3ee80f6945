"""Multi-process training: the Axolotl keys of each strategy and the launcher command line.

A run with world size 1 is one process (`python -m axolotl.cli.train cfg`). Otherwise Axolotl is
started through its documented launchers, `torchrun [args] -m axolotl.cli.train cfg` or
`accelerate launch [args] -m axolotl.cli.train cfg` (each run through the tools interpreter, as
`python -m torch.distributed.run` / `python -m accelerate.commands.launch`):
- one node: the launcher starts `gpus_per_node` processes (torchrun `--standalone` picks a free
  rendezvous port, so runs on one host do not collide);
- several nodes (SLURM): one `srun` step starts one launcher per node (`--ntasks-per-node=1`),
  and every launcher meets at the c10d rendezvous on the job's first node, the host this job
  runs on (`rdzv_port`); accelerate gets the node's rank from `$SLURM_NODEID`.

Strategies: `ddp` needs no key (the launcher's environment makes the Trainer use DDP); `fsdp` is
FSDP2 with full sharding, sharded checkpoints (resumable) and a full final state dict; the
DeepSpeed ZeRO stages use the project's JSONs in `workflow_lib/train/deepspeed/` (docs/
distributed.md says why not Axolotl's). Docs: docs/distributed.md.
"""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

from workflow_lib.config.batch import world_size
from workflow_lib.core.errors import UserError

DEEPSPEED_DIR = Path(__file__).with_name("deepspeed")
AXOLOTL_TRAIN = ("-m", "axolotl.cli.train")
# FSDP2 (Axolotl's `fsdp_version: 2`): parameters, gradients and optimizer states sharded over
# all processes and re-sharded after each forward pass (FULL_SHARD); layers wrapped per decoder
# block (the model's `_no_split_modules`); checkpoints saved sharded, the final model whole.
FSDP_SETTINGS = {
    "fsdp_version": 2,
    "fsdp_config": {
        "reshard_after_forward": True,
        "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "state_dict_type": "SHARDED_STATE_DICT",
        "final_state_dict_type": "FULL_STATE_DICT",
        "cpu_ram_efficient_loading": True,
        "offload_params": False,
    },
}

# Several CPU processes: Axolotl (0.19, normalize_config) places each process's model on device
# LOCAL_RANK, a GPU index, which fails without GPUs; a CPU-only `max_memory` makes its loader map
# the whole model to the CPU instead (a placement budget for accelerate's device map, not an
# allocation). The plugin lets the Trainer resume such a run (axolotl_plugin/cpu_processes.py).
CPU_PROCESSES = {"max_memory": {"cpu": "1024GiB"},
                 "plugins": ["workflow_lib.axolotl_plugin.cpu_processes.CPUProcessesPlugin"]}


def process_env(train: dict, threads: int | None) -> dict[str, str]:
    """Environment of the training processes: each process's share of the job's threads (when
    given), and for several CPU processes the CPU as their device. DDP runs in accelerate's CPU
    mode (`ACCELERATE_USE_CPU`; without it the Trainer sees no GPU, does not join the process
    group and every process trains alone on all the data). Accelerate sets up FSDP and DeepSpeed
    only outside that mode: their processes name the CPU as their device
    (`ACCELERATE_TORCH_DEVICE`) and the project's CPU plugin gives them the gloo group
    (workflow_lib/axolotl_plugin/cpu_processes.py)."""
    env = {}
    if threads:
        per_process = str(max(threads // train["distributed"]["gpus_per_node"], 1))
        env.update(OMP_NUM_THREADS=per_process, MKL_NUM_THREADS=per_process)
    if train["device"] == "cpu" and world_size(train) > 1:
        if train["distributed"]["strategy"] == "ddp":
            env["ACCELERATE_USE_CPU"] = "true"
        else:
            env["ACCELERATE_TORCH_DEVICE"] = "cpu"
    return env


def check_strategy(train: dict, base_model: str, tools_packages: dict[str, str]) -> None:
    """Raise UserError, one line naming the strategy and the fix, when the tools environment
    (its installed `tools_packages`, name → version) cannot run the strategy on `base_model`:
    DeepSpeed not installed; FSDP's per-block wrapping on a model that names no blocks."""
    strategy = train["distributed"]["strategy"]
    if strategy.startswith("deepspeed") and "deepspeed" not in tools_packages:
        raise UserError(f"train.distributed.strategy: {strategy} needs DeepSpeed, which the "
                        "tools environment lacks: `make tools` installs the version pinned in "
                        "envs/train.yaml (conda: envs/train.yaml)")
    if strategy == "fsdp" and not block_classes(base_model):
        raise UserError(f"train.distributed.strategy: fsdp wraps each decoder block "
                        f"(TRANSFORMER_BASED_WRAP), but the model class of {base_model} names "
                        "none (`_no_split_modules`): use ddp or a deepspeed_zero* strategy")


def block_classes(model_dir: str) -> list[str]:
    """The decoder-block classes FSDP wraps one by one (`_no_split_modules` of the model's
    causal-LM class, read from its config alone)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    config = AutoConfig.from_pretrained(model_dir)
    return list(getattr(MODEL_FOR_CAUSAL_LM_MAPPING[type(config)], "_no_split_modules",
                        None) or [])


def deepspeed_config(stage: int) -> Path:
    """The project's DeepSpeed JSON for ZeRO `stage` (1, 2 or 3)."""
    return DEEPSPEED_DIR / f"zero{stage}.json"


def distributed_settings(train: dict) -> dict:
    """Axolotl keys of the configured strategy (none for DDP), and for CPU processes the
    placement of the model on the CPU."""
    strategy = train["distributed"]["strategy"]
    settings = {}
    if train["device"] == "cpu" and world_size(train) > 1:
        settings.update(CPU_PROCESSES)
    if strategy == "fsdp":
        settings.update(FSDP_SETTINGS)
    elif strategy.startswith("deepspeed_zero"):
        stage = int(strategy.removeprefix("deepspeed_zero"))
        settings["deepspeed"] = str(deepspeed_config(stage))
    return settings


def launcher_command(tools_python: str, train: dict, config_path: str) -> list[str]:
    """The command that trains with `config_path` on this run's world size (see the module
    docstring); on several nodes, an `srun` step to be run inside the job's SLURM allocation."""
    dist = train["distributed"]
    nodes, per_node = dist["nodes"], dist["gpus_per_node"]
    if world_size(train) == 1:
        return [tools_python, *AXOLOTL_TRAIN, config_path]
    if dist["launcher"] == "torchrun":
        launch = [tools_python, "-m", "torch.distributed.run", "--nproc_per_node", str(per_node)]
        if nodes == 1:
            launch += ["--standalone"]
        else:
            launch += ["--nnodes", str(nodes), "--rdzv_backend", "c10d",
                       "--rdzv_endpoint", f"{socket.gethostname()}:{dist['rdzv_port']}",
                       "--rdzv_id", "sieve"]
    else:
        # `--multi_gpu` is accelerate's torch.distributed launcher, for CPU processes too
        launch = [tools_python, "-m", "accelerate.commands.launch", "--multi_gpu",
                  "--num_processes", str(nodes * per_node), "--num_machines", str(nodes)]
        if nodes > 1:
            launch += ["--machine_rank", "$SLURM_NODEID", "--main_process_ip",
                       socket.gethostname(), "--main_process_port", str(dist["rdzv_port"]),
                       "--rdzv_backend", "static"]
    command = [*launch, *AXOLOTL_TRAIN, config_path]
    if nodes == 1:
        return command
    # One launcher per node; a shell on each node expands $SLURM_NODEID (accelerate's rank).
    script = " ".join(x if x.startswith("$") else shlex.quote(x) for x in command)
    return ["srun", "--nodes", str(nodes), "--ntasks", str(nodes), "--ntasks-per-node", "1",
            "--kill-on-bad-exit=1", "sh", "-c", f"exec {script}"]
