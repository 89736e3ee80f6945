"""The benchmarks that CI can run: bench/bpc_bench.py on the CPU with a tiny model (the stateful
baseline and the pipeline agree), and bench/gpu_smoke.sh's syntax and its skip without a GPU."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT


@pytest.mark.slow
def test_bpc_bench_runs_on_the_cpu_and_both_paths_agree():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bpc_bench.py"), "--tiny", "--corpus", "stdlib",
         "--limit", "1", "--block-size", "32", "--stride", "16", "--batch-size", "8",
         "--rounds", "1", "--threads", "1"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = dict(re.findall(r"^\| ([a-zA-Z ()/]+) \| (.+) \|$", proc.stdout, re.M))
    base, pipeline = (float(x) for x in rows["BPC"].split(" | "))
    assert base > 0 and abs(base - pipeline) <= 1e-6 * pipeline
    scored = rows["scored targets"].split(" | ")
    assert scored[0] == scored[1] and int(scored[0]) > 100
    assert re.search(r"matmul [\d.]+ GFLOP/s float32 on cpu", proc.stdout)
    assert "share of FLOP bound" in rows and "speed of light" in proc.stdout


def test_gpu_smoke_script_parses_and_skips_without_a_gpu(tmp_path):
    script = ROOT / "bench" / "gpu_smoke.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: the script would run for real")
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "SKIP" in proc.stdout and "no GPU" in proc.stdout
