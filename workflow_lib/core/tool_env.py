"""Environment for the external tools (Axolotl, lm-eval) run as subprocesses of a job."""

from __future__ import annotations

import os

OFFLINE_VARS = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def tool_env(offline: bool, threads: int | None = None, **extra: str) -> dict[str, str]:
    """This process's environment plus the Hugging Face offline switches when `offline`, the
    job's thread count for OpenMP/MKL when given, and `extra` variables."""
    env = {**os.environ, **extra}
    if offline:
        env.update(OFFLINE_VARS)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env
