"""Axolotl plugin for training on several CPU processes (the gloo backend, as the tests run DDP).

Accelerate names each CPU process's device `cpu:0`, and the Trainer resumes a multi-process run
with `torch.load(optimizer.pt, map_location=args.device)`, which restores storages only to
"cpu", not "cpu:0". The plugin registers a torch.load location rule that maps `cpu:N` to the
CPU, in every process, before the Trainer resumes. Enabled by the renderer for `device: cpu`
with a world size above 1 (`train.distributed`).
"""

from __future__ import annotations

import re

import torch
from axolotl.integrations.base import BasePlugin

_CPU_INDEX = re.compile(r"cpu:\d+")
_PRIORITY = 9  # before torch's own cpu rule (10); priorities must be distinct


def _no_tag(storage) -> None:
    """Saving is unchanged: torch's own rules tag storages."""
    return None


def _indexed_cpu(storage, location: str):
    """A storage to be restored to `cpu:N` is restored to the CPU, where it already is."""
    return storage if _CPU_INDEX.fullmatch(location) else None


class CPUProcessesPlugin(BasePlugin):
    """Registers the `cpu:N` location rule with torch.load (once per process)."""

    def register(self, cfg: dict):
        registry = torch.serialization._package_registry
        if not any(entry[2] is _indexed_cpu for entry in registry):
            torch.serialization.register_package(_PRIORITY, _no_tag, _indexed_cpu)
