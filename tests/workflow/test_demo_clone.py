"""The demo as a new user meets it: `make demo`'s own Snakemake command line, run in a copy of the
repository with nothing beside it (no ../shared) and no network, plans the whole demo and runs
for real up to the MT-bench judgments of the base model."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support import ROOT, copy_repository

TARGET = "results/eval/base-smollm2-135m/mtbench/metrics.json"


def demo_command() -> list[str]:
    """The Makefile's `demo` recipe line, with this interpreter's Snakemake and default cores."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(.+)$", text, re.MULTILINE).group(1).split()
    cores = re.search(r"^CORES \?= (\d+)$", text, re.MULTILINE).group(1)
    assert recipe[0] == "$(BIN)/snakemake", recipe
    return [sys.executable, "-m", "snakemake",
            *(cores if word == "$(CORES)" else word for word in recipe[1:])]


@pytest.mark.slow
def test_demo_runs_on_a_copy_with_nothing_beside_it_up_to_mtbench_judging(tmp_path):
    clone = tmp_path / "sieve"
    copy_repository(clone)
    assert not (clone.parent / "shared").exists()
    command = demo_command()

    plan = subprocess.run([*command, "-n"], cwd=clone, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "mtbench_judge" in plan.stdout and "../shared" not in plan.stdout + plan.stderr

    run = subprocess.run([*command, TARGET], cwd=clone, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
                              "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    metrics = json.loads((clone / TARGET).read_text())
    assert metrics["run"] == "base-smollm2-135m"
    (score,) = (m for m in metrics["metrics"]
                if (m["benchmark"], m["metric"]) == ("mt_bench", "score"))
    assert 1 <= score["value"] <= 10 and score["n"] == 12  # the demo set: 6 questions x 2 turns
    manifest = json.loads((clone / "resources/mtbench/manifest.json").read_text())
    sources = {f["source"] for f in manifest["files"].values()}
    assert sources == {"workflow_lib/evaluate/mtbench/demo.py"}
