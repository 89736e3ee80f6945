"""What the tests share: the repository's paths, running Snakemake on a work folder, and the
test configs (YAML files in tests/configs/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workflow_lib.config.validate import validate_config

ROOT = Path(__file__).resolve().parents[2]
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
CONFIGS = ROOT / "tests" / "configs"
SHARED = ROOT.parent / "shared"  # the real public data beside the repository (optional)
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake in `workdir` with its config.yaml and the repository's local profile."""
    proc = subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--workflow-profile", str(ROOT / "profiles" / "default"), "--cores", "2", *args],
        capture_output=True, text=True, cwd=workdir)
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                    f"{proc.stderr[-3000:]}")
    return proc


def copy_repository(target: Path) -> None:
    """The repository's files as a clone has them (tracked, plus new files git does not ignore)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, names.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def snakemake_in(clone: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake in `workdir` with a repository copy's (`copy_repository`) Snakefile and profile,
    importing the copy's workflow_lib."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(clone / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--workflow-profile", str(clone / "profiles/default"), "--cores", "2", *args],
        capture_output=True, text=True, cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(clone)})


def write_config(workdir: Path, config: dict) -> None:
    """Write `config` as the work folder's config.yaml."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from a dry run's summary table."""
    counts, table = {}, False
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            table = True
        elif table and len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
        elif table and parts and parts[0] == "total":
            break
    return counts


def train_block(**train) -> dict:
    """The `train` block of a minimal valid config, defaults filled in by the schema."""
    config = {"pools": {"p": {"source": {"kind": "demo"}}},
              "models": {"m": {"source": {"kind": "tiny", "tokenizer_pool": "p"}}},
              "methods": {"r": {"kind": "random"}},
              "experiments": [{"pools": ["p"], "methods": ["r"], "budgets": [1],
                               "base_models": ["m"]}],
              "train": train}
    return validate_config(config)["train"]


def load_config(name: str) -> dict:
    """A test config from tests/configs/<name>.yaml (a fresh copy each call)."""
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


TINY_CONFIG = load_config("tiny")
