"""Axolotl plugin for training on several CPU processes over gloo (what the tests and recipe
rehearsals run). Enabled by the renderer only for `device: cpu` with a world size above 1
(`train.distributed`); GPU runs never load it. Each change below is what the pinned versions
(Axolotl 0.19.0, accelerate 1.13.0, DeepSpeed 0.18.9, torch 2.13.0) need on a machine without
GPUs, quoted from the error it answers; docs/distributed.md lists them.

1. Resuming (every strategy). Accelerate names each CPU process's device `cpu:0`, and the
   Trainer resumes with `torch.load(optimizer.pt, map_location=args.device)`, which restores
   storages only to "cpu", not "cpu:0": a torch.load location rule maps `cpu:N` to the CPU.
2. FSDP's device mesh. Axolotl (`utils.distributed.build_parallelism_config`) builds it for the
   device type "cuda" whatever the device (`module 'torch._C' has no attribute
   '_cuda_setDevice'`): it is built for "cpu" when no GPU is available (same ranks, shape and
   dimension names).
3. FSDP and DeepSpeed processes. Accelerate sets up FSDP and DeepSpeed only for launched
   processes on GPUs (in its CPU mode, `ACCELERATE_USE_CPU`, the Trainer silently runs plain DDP;
   outside it, without GPUs, it sees no process group: DeepSpeed then fails with `train_batch_size
   is not equal to micro_batch_per_gpu * gradient_acc_step * world_size 2 != 2 * 1 * 2`). Launched
   processes without GPUs and outside the CPU mode get the gloo group, of accelerate's
   multi-device kind, on the device `ACCELERATE_TORCH_DEVICE=cpu` that the project sets.
4. DeepSpeed ZeRO-1/2's optimizer step runs without autograd, as torch's optimizers step: it
   all-gathers the updated weights into a flat buffer that requires grad, which gloo refuses in
   grad mode (`Output 0 of Split is a view and is being modified inplace`; NCCL does not check).
"""

from __future__ import annotations

import os
import re

import torch
from accelerate.parallelism_config import ParallelismConfig
from accelerate.state import PartialState
from accelerate.utils import DistributedType
from axolotl.integrations.base import BasePlugin

_CPU_INDEX = re.compile(r"cpu:\d+")
_PRIORITY = 9  # before torch's own cpu rule (10); priorities must be distinct


def _no_tag(storage) -> None:
    """Saving is unchanged: torch's own rules tag storages."""
    return None


def _indexed_cpu(storage, location: str):
    """A storage to be restored to `cpu:N` is restored to the CPU, where it already is."""
    return storage if _CPU_INDEX.fullmatch(location) else None


_build_device_mesh = ParallelismConfig.build_device_mesh


def _device_mesh_here(self, device_type: str):
    """The mesh for the CPU when a GPU mesh is asked for on a machine without GPUs."""
    if device_type == "cuda" and not torch.cuda.is_available():
        device_type = "cpu"
    return _build_device_mesh(self, device_type)


_prepare_backend = PartialState._prepare_backend


def _sharding_backend_here(self, cpu: bool = False, sagemaker_dp: bool = False,
                           backend: str | None = None):
    """Processes started by a launcher on a machine without GPUs, not in accelerate's CPU mode:
    the gloo group, of the multi-device kind for which accelerate sets up FSDP and DeepSpeed."""
    found, kind = _prepare_backend(self, cpu, sagemaker_dp, backend)
    if (kind == DistributedType.NO and not cpu and not torch.cuda.is_available()
            and int(os.environ.get("LOCAL_RANK", -1)) != -1):
        return "gloo", DistributedType.MULTI_GPU
    return found, kind


def _zero_step_without_grad() -> None:
    """DeepSpeed's ZeRO-1/2 optimizer step, run without autograd as torch's optimizers step."""
    from deepspeed.runtime.zero.stage_1_and_2 import DeepSpeedZeroOptimizer

    if not getattr(DeepSpeedZeroOptimizer.step, "_without_grad", False):
        step = torch.no_grad()(DeepSpeedZeroOptimizer.step)
        step._without_grad = True
        DeepSpeedZeroOptimizer.step = step


class CPUProcessesPlugin(BasePlugin):
    """Applies the changes of the module docstring (once per process; 4 only for DeepSpeed)."""

    def register(self, cfg: dict):
        if cfg.get("deepspeed"):
            _zero_step_without_grad()
        registry = torch.serialization._package_registry
        if not any(entry[2] is _indexed_cpu for entry in registry):
            torch.serialization.register_package(_PRIORITY, _no_tag, _indexed_cpu)
        ParallelismConfig.build_device_mesh = _device_mesh_here
        PartialState._prepare_backend = _sharding_backend_here
