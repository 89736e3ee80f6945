"""Helpers for tests that compare whole workflow runs: copying a finished run, and the outputs
that two runs of the same config must produce byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

RUN_ITEMS = ("config.yaml", "corpus.jsonl", "results", "resources", "benchmarks",
             ".snakemake")
# Manifests and raw tool outputs hold wall times, dates and paths; these hold none.
DETERMINISTIC = ("results/pools/*.jsonl", "results/selections/**/data.jsonl",
                 "resources/models/*/model.safetensors", "results/models/*/model.safetensors",
                 "results/eval/*/*/metrics.json", "results/tables/metrics.csv")


def copy_run(src: Path, dst: Path, items: tuple[str, ...] = RUN_ITEMS) -> None:
    """Copy a run's config, inputs, outputs and Snakemake metadata (mtimes kept)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in items:
        copy = shutil.copytree if (src / item).is_dir() else shutil.copy2
        copy(src / item, dst / item)


def deterministic_outputs(workdir: Path) -> dict[str, bytes]:
    """Pools, selected records, model weights, evaluation metrics and the metrics table."""
    return {str(p.relative_to(workdir)): p.read_bytes()
            for pattern in DETERMINISTIC for p in sorted(workdir.glob(pattern))}
